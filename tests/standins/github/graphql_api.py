"""GitHub's GraphQL API for review threads: query them, reply in them, resolve them.

Follows docs.github.com/graphql: "Forming calls" (POST `/api/graphql` on GitHub
Enterprise Server, a JSON body with `query`, `variables`, `operationName`; answers 200
with `data` and/or `errors`, 401 for a bad token), "Using pagination in the GraphQL API"
(every connection needs `first` or `last`, at most 100; `pageInfo` with
`hasNextPage`/`endCursor`; `after`/`before` cursors), the reference for
`PullRequest.reviewThreads`, `PullRequestReviewThread`, `PullRequestReviewComment`,
and the mutations `resolveReviewThread`, `unresolveReviewThread` and
`addPullRequestReviewThreadReply`. Errors of resolution carry GitHub's `type`
(NOT_FOUND, MISSING_PAGINATION_BOUNDARIES, EXCESSIVE_PAGINATION, ...). A Bot's `login`
has no `[bot]` suffix here, unlike REST. The schema subset is
`graphql_schema.graphql`; parsing and validation are graphql-core's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from graphql import GraphQLError, build_schema, graphql
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.standins.github.access import AppAccess
from tests.standins.github.gate import DOCS, RestGate, bearer
from tests.standins.github.git_repos import RepoGit
from tests.standins.github.reviews import Reviews
from tests.standins.github.shapes import Site, numeric_id
from tests.standins.github.store import (
    PullState,
    Review,
    ReviewComment,
    ReviewThread,
    Store,
    node_id,
)

Json = dict[str, Any]
T = TypeVar("T")
SCHEMA = build_schema((Path(__file__).parent / "graphql_schema.graphql").read_text())
MAX_PAGE = 100


class Refusal(Exception):
    """A resolution error GitHub reports with a `type`."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def cursor(index: int) -> str:
    """An opaque connection cursor."""
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _index(text: str) -> int:
    try:
        return int(base64.b64decode(text, validate=True).decode().removeprefix("cursor:v2:"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Refusal(
            "INVALID_CURSOR_ARGUMENTS", f"`{text}` does not appear to be a valid cursor."
        ) from exc


def connection(
    name: str, items: Sequence[T], view: Callable[[T], Json], args: dict[str, Any]
) -> Json:
    """One page of a connection, bounded by `first`/`last` and `after`/`before`."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        message = "You must provide a `first` or `last` value to properly paginate the "
        message += f"`{name}` connection."
        raise Refusal("MISSING_PAGINATION_BOUNDARIES", message)
    for bound, value in (("first", first), ("last", last)):
        if value is not None and value > MAX_PAGE:
            message = (
                f"Requesting {value} records on the `{name}` connection exceeds "
                f"the `{bound}` limit of {MAX_PAGE} records."
            )
            raise Refusal("EXCESSIVE_PAGINATION", message)
    start = _index(args["after"]) + 1 if args.get("after") else 0
    end = _index(args["before"]) if args.get("before") else len(items)
    window = list(range(start, min(end, len(items))))
    window = window[:first] if first is not None else window
    window = window[-last:] if last else ([] if last == 0 else window)
    edges = [{"cursor": cursor(i), "node": view(items[i])} for i in window]
    return {
        "totalCount": len(items),
        "edges": edges,
        "nodes": [e["node"] for e in edges],
        "pageInfo": {
            "hasNextPage": bool(window) and window[-1] + 1 < len(items),
            "hasPreviousPage": bool(window) and window[0] > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


class GraphQLApi:
    """The `/api/graphql` endpoint over the stand-in's pull requests and reviews."""

    def __init__(
        self,
        store: Store,
        git: RepoGit,
        site: Site,
        access: AppAccess,
        reviews: Reviews,
        gate: RestGate,
    ) -> None:
        self._store, self._git, self._site = store, git, site
        self._access, self._reviews, self._gate = access, reviews, gate
        self.queries: list[Json] = []

    def _known(self, token: str) -> bool:
        repos = {*self._access.installations, *self._store.pulls, *self._access.collaborators}
        return any(self._access.valid_token(token, repo) for repo in repos)

    async def endpoint(self, request: Request) -> Response:
        """Answer one GraphQL request as GitHub does."""
        token = bearer(request)
        if not self._known(token):
            body = {"message": "Bad credentials", "documentation_url": DOCS}
            self._gate.calls.append((request.method, request.url.path, 401))
            return JSONResponse(body, status_code=401)
        try:
            sent = await request.json()
        except ValueError:
            return JSONResponse(
                {"message": "Problems parsing JSON", "documentation_url": DOCS}, status_code=400
            )
        self._gate.calls.append((request.method, request.url.path, 200))
        query = sent.get("query") if isinstance(sent, dict) else None
        if not isinstance(query, str):
            return JSONResponse(
                {
                    "errors": [
                        {"message": "A query attribute must be specified and must be a string."}
                    ]
                }
            )
        self.queries.append({"query": query, "variables": sent.get("variables") or {}})
        result = await graphql(
            SCHEMA, query, root_value=self._root(token),
            variable_values=sent.get("variables"), operation_name=sent.get("operationName"),
        )  # fmt: skip
        answer: Json = {} if result.data is None else {"data": result.data}
        if result.errors:
            answer["errors"] = [_github_error(e) for e in result.errors]
        return JSONResponse(answer)

    def _root(self, token: str) -> Json:
        def allowed(repo: str, what: str) -> None:
            if not self._access.valid_token(token, repo):
                raise Refusal("NOT_FOUND", what)

        def repository(_info: Any, owner: str, name: str, **_: Any) -> Json:
            repo = f"{owner}/{name}"
            allowed(repo, f"Could not resolve to a Repository with the name '{repo}'.")
            if not self._git.path(repo).exists():
                raise Refusal(
                    "NOT_FOUND", f"Could not resolve to a Repository with the name '{repo}'."
                )
            return self._repo_view(repo)

        def thread_for(thread_id: str) -> ReviewThread:
            thread = self._store.threads.get(thread_id)
            missing = f"Could not resolve to a node with the global id of '{thread_id}'"
            if thread is None:
                raise Refusal("NOT_FOUND", missing)
            allowed(thread.repo, missing)
            return thread

        def resolve(_info: Any, input: Json, done: bool = True) -> Json:
            thread = thread_for(input["threadId"])
            self._reviews.set_resolved(thread.node_id, self._site.bot, done)
            return {
                "clientMutationId": input.get("clientMutationId"),
                "thread": self._thread_view(thread),
            }

        def reply(_info: Any, input: Json) -> Json:
            thread = thread_for(input["pullRequestReviewThreadId"])
            if not input["body"].strip():
                raise Refusal("UNPROCESSABLE", "Body can't be blank")
            made = self._reviews.reply(thread.node_id, self._site.bot, input["body"])
            return {
                "clientMutationId": input.get("clientMutationId"),
                "comment": self._comment_view(made),
            }

        def node(_info: Any, id: str) -> Json | None:
            return self._node(id, allowed)

        return {
            "repository": repository,
            "node": node,
            "resolveReviewThread": resolve,
            "unresolveReviewThread": lambda info, input: resolve(info, input, done=False),
            "addPullRequestReviewThreadReply": reply,
        }

    def _node(self, id_: str, allowed: Callable[[str, str], None]) -> Json | None:
        missing = f"Could not resolve to a node with the global id of '{id_}'"
        found: Json | None = None
        if (thread := self._store.threads.get(id_)) is not None:
            allowed(thread.repo, missing)
            found = self._thread_view(thread)
        elif (
            comment := next(
                (c for c in self._store.review_comments.values() if node_id("PRRC", c.id) == id_),
                None,
            )
        ) is not None:
            allowed(comment.repo, missing)
            found = self._comment_view(comment)
        elif (
            pull := next(
                ((r, p) for r, ps in self._store.pulls.items() for p in ps if p.node_id == id_),
                None,
            )
        ) is not None:
            allowed(pull[0], missing)
            found = self._pull_view(*pull)
        if found is None:
            raise Refusal("NOT_FOUND", missing)
        return found

    # --- views: dicts whose callables graphql-core calls with the field's arguments ---------

    def _repo_view(self, repo: str) -> Json:
        def pull_request(_info: Any, number: int) -> Json:
            pull = self._store.pull(repo, number)
            if pull is None:
                raise Refusal(
                    "NOT_FOUND", f"Could not resolve to a PullRequest with the number of {number}."
                )
            return self._pull_view(repo, pull)

        return {
            "__typename": "Repository",
            "id": node_id("R", numeric_id(repo)),
            "name": repo.split("/", 1)[1],
            "nameWithOwner": repo,
            "url": self._site.repo_html(repo),
            "pullRequest": pull_request,
        }

    def _pull_view(self, repo: str, pull: PullState) -> Json:
        threads = self._store.threads_of(repo, pull.number)
        reviews = [
            r for r in self._store.reviews.values() if (r.repo, r.number) == (repo, pull.number)
        ]

        def chosen_reviews(_info: Any, **args: Any) -> Json:
            states, author = args.get("states"), args.get("author")
            picked = [
                r for r in reviews if (not states or r.state in states) and author in (None, r.user)
            ]
            return connection("reviews", picked, self._review_view, args)

        return {
            "__typename": "PullRequest",
            "id": pull.node_id,
            "databaseId": pull.id,
            "number": pull.number,
            "title": pull.title,
            "body": pull.body,
            "url": f"{self._site.repo_html(repo)}/pull/{pull.number}",
            "state": "MERGED" if pull.merged else pull.state.upper(),
            "closed": pull.state == "closed",
            "merged": pull.merged,
            "isDraft": False,
            "author": self._actor(pull.user or self._site.bot),
            "createdAt": pull.created_at,
            "headRefName": pull.head,
            "headRefOid": self._git.branch_sha(repo, pull.head) or "",
            "baseRefName": pull.base,
            "repository": lambda _info: self._repo_view(repo),
            "reviewThreads": lambda _info, **args: connection(
                "reviewThreads", threads, self._thread_view, args
            ),
            "reviews": chosen_reviews,
        }

    def _thread_view(self, thread: ReviewThread) -> Json:
        comments = self._store.thread_comments(thread)
        resolver = thread.resolved_by
        return {
            "__typename": "PullRequestReviewThread",
            "id": thread.node_id,
            "isResolved": thread.is_resolved,
            "isOutdated": thread.is_outdated,
            "isCollapsed": thread.is_resolved,
            "path": thread.path,
            "line": None if thread.is_outdated else thread.line,
            "originalLine": thread.line,
            "startLine": None,
            "originalStartLine": None,
            "diffSide": thread.side,
            "startDiffSide": None,
            "subjectType": "LINE",
            "resolvedBy": self._actor(resolver)
            if resolver and resolver != self._site.bot
            else None,
            "viewerCanReply": True,
            "viewerCanResolve": not thread.is_resolved,
            "viewerCanUnresolve": thread.is_resolved,
            "pullRequest": lambda _info: self._pull_view(
                thread.repo, self._pull(thread.repo, thread.number)
            ),
            "repository": lambda _info: self._repo_view(thread.repo),
            "comments": lambda _info, **args: connection(
                "comments", comments, self._comment_view, args
            ),
        }

    def _comment_view(self, comment: ReviewComment) -> Json:
        outdated = self._store.threads[comment.thread_id].is_outdated
        html = (
            f"{self._site.repo_html(comment.repo)}/pull/{comment.number}#discussion_r{comment.id}"
        )
        review = self._store.reviews[comment.review_id]
        replied = self._store.review_comments.get(comment.in_reply_to_id or 0)
        return {
            "__typename": "PullRequestReviewComment",
            "id": node_id("PRRC", comment.id),
            "databaseId": comment.id,
            "fullDatabaseId": str(comment.id),
            "body": comment.body,
            "bodyText": comment.body,
            "author": self._actor(comment.user),
            "authorAssociation": self._access.author_association(comment.repo, comment.user),
            "diffHunk": comment.diff_hunk,
            "path": comment.path,
            "line": None if outdated else comment.line,
            "originalLine": comment.line,
            "outdated": outdated,
            "url": html,
            "createdAt": comment.created_at,
            "updatedAt": comment.updated_at,
            "publishedAt": comment.created_at,
            "replyTo": (lambda _info: self._comment_view(replied)) if replied else None,
            "pullRequestReview": lambda _info: self._review_view(review),
            "pullRequest": lambda _info: self._pull_view(
                comment.repo, self._pull(comment.repo, comment.number)
            ),
        }

    def _review_view(self, review: Review) -> Json:
        html = self._site.repo_html(review.repo)
        return {
            "__typename": "PullRequestReview",
            "id": node_id("PRR", review.id),
            "databaseId": review.id,
            "state": review.state,
            "body": review.body,
            "author": self._actor(review.user),
            "authorAssociation": self._access.author_association(review.repo, review.user),
            "submittedAt": review.submitted_at,
            "url": f"{html}/pull/{review.number}#pullrequestreview-{review.id}",
        }

    def _actor(self, login: str) -> Json:
        is_bot = login == self._site.bot
        return {
            "__typename": "Bot" if is_bot else "User",
            "id": node_id("BOT" if is_bot else "U", numeric_id(login)),
            "databaseId": numeric_id(login),
            "login": self._site.app_slug if is_bot else login,
            "avatarUrl": lambda _info, **_args: f"{self._site.html}/avatars/{login}",
            "resourcePath": f"/apps/{self._site.app_slug}" if is_bot else f"/{login}",
            "url": f"{self._site.html}/apps/{self._site.app_slug}"
            if is_bot
            else f"{self._site.html}/{login}",
        }

    def _pull(self, repo: str, number: int) -> PullState:
        pull = self._store.pull(repo, number)
        assert pull is not None
        return pull


def _github_error(error: GraphQLError) -> Json:
    """graphql-core's error in GitHub's layout: `type` for resolution errors."""
    shown: Json = dict(error.formatted)
    if isinstance(error.original_error, Refusal):
        shown.pop("extensions", None)
        shown = {"type": error.original_error.kind} | shown
    return shown

"""Pull request reviews, inline review comments and their threads, replies and resolutions.

Follows docs.github.com/rest "Pulls: reviews" (List reviews, Get a review, List comments
for a review; REST states are upper case: APPROVED, CHANGES_REQUESTED, COMMENTED) and
"Pulls: review comments" (List review comments on a pull request, Get a review comment,
Create a reply for a review comment: 201; `diff_hunk` is the hunk up to the commented
line, `position` counts lines below the file's first `@@`), and the webhook payloads
`pull_request_review` (submitted; `review.state` is lower case there),
`pull_request_review_comment` (created) and `pull_request_review_thread`
(resolved/unresolved, with the thread's `node_id` and `comments`). As on GitHub, a
reply made outside a review is wrapped in a review of its own (COMMENTED), so it also
sends `pull_request_review` submitted, with the replier as sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tests.standins.github.access import AppAccess
from tests.standins.github.gate import RestGate, page_of, repo_of
from tests.standins.github.git_repos import RepoGit, locate_line
from tests.standins.github.pulls import PullRequests, reactions
from tests.standins.github.shapes import Site, user
from tests.standins.github.store import Review, ReviewComment, ReviewThread, Store, node_id
from tests.standins.github.webhooks import WebhookSender

Json = dict[str, Any]
REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED")


@dataclass(frozen=True)
class InlineComment:
    """A comment a reviewer leaves on one line of the diff (it starts a thread)."""

    path: str
    line: int
    body: str
    side: str = "RIGHT"


class NotInDiff(ValueError):
    """GitHub's 422: the line is not part of the pull request's diff."""


@dataclass(frozen=True)
class ThreadAction:
    """A reply, resolution or unresolution, as recorded for tests."""

    kind: str
    thread_id: str
    by: str
    body: str = ""


class Reviews:
    """Reviews and threads of pull requests, and what GitHub sends about them."""

    def __init__(
        self,
        store: Store,
        git: RepoGit,
        site: Site,
        hooks: WebhookSender,
        access: AppAccess,
        pulls: PullRequests,
    ) -> None:
        self._store, self._git, self._site = store, git, site
        self._hooks, self._access, self._pulls = hooks, access, pulls
        self.actions: list[ThreadAction] = []

    def submit(
        self, repo: str, number: int, by: str, state: str, body: str, comments: list[InlineComment]
    ) -> Review:
        """A submitted review whose inline comments each start a thread."""
        assert state in REVIEW_STATES, state
        pull = self._store.pull(repo, number)
        if pull is None:
            raise KeyError(f"no pull request {repo}#{number}")
        head = self._git.branch_sha(repo, pull.head) or ""
        base = self._git.branch_sha(repo, pull.base) or ""
        placed = [(c, self._place(repo, base, head, c)) for c in comments]
        review = Review(self._store.next_id(), repo, number, by, state, body, head)
        self._store.reviews[review.id] = review
        made = [self._start_thread(review, c, hunk, position) for c, (hunk, position) in placed]
        self._send_review(review)
        for comment in made:
            self._send_comment(comment)
        return review

    def _place(self, repo: str, base: str, head: str, comment: InlineComment) -> tuple[str, int]:
        found = locate_line(
            self._git.diff(repo, base, head, comment.path), comment.line, comment.side
        )
        if found is None:
            raise NotInDiff(f"{comment.path}:{comment.line} is not part of the diff")
        return found.diff_hunk, found.position

    def _start_thread(
        self, review: Review, comment: InlineComment, hunk: str, position: int
    ) -> ReviewComment:
        thread = ReviewThread(
            node_id("PRRT", self._store.next_id()),
            review.repo,
            review.number,
            comment.path,
            comment.line,
            comment.side,
        )
        self._store.threads[thread.node_id] = thread
        return self._add(thread, review, comment.body, hunk, position, None)

    def _add(
        self,
        thread: ReviewThread,
        review: Review,
        body: str,
        hunk: str,
        position: int,
        reply_to: int | None,
    ) -> ReviewComment:
        made = ReviewComment(
            self._store.next_id(), review.id, thread.node_id, thread.repo, thread.number,
            review.user, body, thread.path, thread.line, thread.side, hunk, position,
            review.commit_id, reply_to,
        )  # fmt: skip
        self._store.review_comments[made.id] = made
        thread.comment_ids.append(made.id)
        return made

    def reply(self, thread_id: str, by: str, body: str) -> ReviewComment:
        """A reply at the end of a thread, wrapped in a COMMENTED review of its own."""
        thread = self._store.threads[thread_id]
        first = self._store.review_comments[thread.comment_ids[0]]
        pull = self._store.pull(thread.repo, thread.number)
        head = self._git.branch_sha(thread.repo, pull.head) if pull else None
        review = Review(
            self._store.next_id(),
            thread.repo,
            thread.number,
            by,
            "COMMENTED",
            "",
            head or first.commit_id,
        )
        self._store.reviews[review.id] = review
        made = self._add(thread, review, body, first.diff_hunk, first.position, first.id)
        self.actions.append(ThreadAction("reply", thread_id, by, body))
        self._send_comment(made)
        self._send_review(review)
        return made

    def set_resolved(self, thread_id: str, by: str, resolved: bool) -> ReviewThread:
        """Resolve or unresolve a thread; `pull_request_review_thread` goes out."""
        thread = self._store.threads[thread_id]
        thread.is_resolved, thread.resolved_by = resolved, by if resolved else None
        action = "resolved" if resolved else "unresolved"
        self.actions.append(ThreadAction(action.removesuffix("d"), thread_id, by))
        comments = [self.comment_json(c) for c in self._store.thread_comments(thread)]
        payload = {
            "action": action,
            "pull_request": self._pulls.json(thread.repo, self._pull_of(thread)),
            "thread": {"node_id": thread.node_id, "comments": comments},
        }
        self._hooks.send("pull_request_review_thread", thread.repo, by, payload)
        return thread

    def _pull_of(self, thread: ReviewThread) -> Any:
        pull = self._store.pull(thread.repo, thread.number)
        assert pull is not None
        return pull

    def _send_review(self, review: Review) -> None:
        pull = self._store.pull(review.repo, review.number)
        assert pull is not None
        shown = self.review_json(review) | {"state": review.state.lower()}
        payload = {
            "action": "submitted",
            "review": shown,
            "pull_request": self._pulls.json(review.repo, pull),
        }
        self._hooks.send("pull_request_review", review.repo, review.user, payload)

    def _send_comment(self, comment: ReviewComment) -> None:
        pull = self._store.pull(comment.repo, comment.number)
        assert pull is not None
        payload = {
            "action": "created",
            "comment": self.comment_json(comment),
            "pull_request": self._pulls.json(comment.repo, pull),
        }
        self._hooks.send("pull_request_review_comment", comment.repo, comment.user, payload)

    # --- shapes ------------------------------------------------------------------------

    def review_json(self, review: Review) -> Json:
        """A `pull-request-review` object (REST: upper-case state)."""
        api, html = self._site.repo_api(review.repo), self._site.repo_html(review.repo)
        html_url = f"{html}/pull/{review.number}#pullrequestreview-{review.id}"
        return {
            "id": review.id,
            "node_id": node_id("PRR", review.id),
            "user": user(self._site, review.user),
            "body": review.body,
            "state": review.state,
            "html_url": html_url,
            "pull_request_url": f"{api}/pulls/{review.number}",
            "_links": {
                "html": {"href": html_url},
                "pull_request": {"href": f"{api}/pulls/{review.number}"},
            },
            "submitted_at": review.submitted_at,
            "commit_id": review.commit_id,
            "author_association": self._access.author_association(review.repo, review.user),
        }

    def comment_json(self, comment: ReviewComment) -> Json:
        """A `pull-request-review-comment` object; an outdated thread has no `line`/`position`."""
        api, html = self._site.repo_api(comment.repo), self._site.repo_html(comment.repo)
        url, pull_url = f"{api}/pulls/comments/{comment.id}", f"{api}/pulls/{comment.number}"
        html_url = f"{html}/pull/{comment.number}#discussion_r{comment.id}"
        outdated = self._store.threads[comment.thread_id].is_outdated
        body: Json = {
            "url": url,
            "pull_request_review_id": comment.review_id,
            "id": comment.id,
            "node_id": node_id("PRRC", comment.id),
            "diff_hunk": comment.diff_hunk,
            "path": comment.path,
            "position": None if outdated else comment.position,
            "original_position": comment.position,
            "commit_id": comment.commit_id,
            "original_commit_id": comment.commit_id,
            "user": user(self._site, comment.user),
            "body": comment.body,
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "html_url": html_url,
            "pull_request_url": pull_url,
            "author_association": self._access.author_association(comment.repo, comment.user),
            "_links": {
                "self": {"href": url},
                "html": {"href": html_url},
                "pull_request": {"href": pull_url},
            },
            "start_line": None,
            "original_start_line": None,
            "start_side": None,
            "line": None if outdated else comment.line,
            "original_line": comment.line,
            "side": comment.side,
            "subject_type": "line",
            "reactions": reactions(f"{url}/reactions"),
        }
        return body | ({"in_reply_to_id": comment.in_reply_to_id} if comment.in_reply_to_id else {})


class ReviewRoutes:
    """REST routes of reviews and review comments."""

    def __init__(self, reviews: Reviews, store: Store, gate: RestGate, site: Site) -> None:
        self._reviews, self._store, self._gate, self._site = reviews, store, gate, site

    def _refused_or_pull(self, request: Request) -> Response | None:
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        if self._store.pull(repo, request.path_params["number"]) is None:
            return self._gate.error(request, 404, "Not Found")
        return None

    async def list_reviews(self, request: Request) -> Response:
        """A PR's reviews, oldest first, paginated."""
        if (refused := self._refused_or_pull(request)) is not None:
            return refused
        key = (repo_of(request), request.path_params["number"])
        found = [r for r in self._store.reviews.values() if (r.repo, r.number) == key]
        chunk, link = page_of(request, found)
        return self._gate.json(request, 200, [self._reviews.review_json(r) for r in chunk], link)

    async def get_review(self, request: Request) -> Response:
        """One review of a PR."""
        if (refused := self._refused_or_pull(request)) is not None:
            return refused
        review = self._store.reviews.get(request.path_params["review_id"])
        if review is None or (review.repo, review.number) != (
            repo_of(request),
            request.path_params["number"],
        ):
            return self._gate.error(request, 404, "Not Found")
        return self._gate.json(request, 200, self._reviews.review_json(review))

    async def review_comments(self, request: Request) -> Response:
        """The comments of one review."""
        if (refused := self._refused_or_pull(request)) is not None:
            return refused
        found = [
            c
            for c in self._store.review_comments.values()
            if c.review_id == request.path_params["review_id"]
        ]
        chunk, link = page_of(request, found)
        return self._gate.json(request, 200, [self._reviews.comment_json(c) for c in chunk], link)

    async def list_comments(self, request: Request) -> Response:
        """Every review comment of a PR, oldest first, paginated."""
        if (refused := self._refused_or_pull(request)) is not None:
            return refused
        key = (repo_of(request), request.path_params["number"])
        found = [c for c in self._store.review_comments.values() if (c.repo, c.number) == key]
        chunk, link = page_of(request, found)
        return self._gate.json(request, 200, [self._reviews.comment_json(c) for c in chunk], link)

    async def get_comment(self, request: Request) -> Response:
        """One review comment by id."""
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        found = self._store.review_comments.get(request.path_params["comment_id"])
        if found is None or found.repo != repo:
            return self._gate.error(request, 404, "Not Found")
        return self._gate.json(request, 200, self._reviews.comment_json(found))

    async def reply(self, request: Request) -> Response:
        """Reply to a review comment's thread as the App's bot (201)."""
        if (refused := self._refused_or_pull(request)) is not None:
            return refused
        found = self._store.review_comments.get(request.path_params["comment_id"])
        if (
            found is None
            or found.number != request.path_params["number"]
            or found.repo != repo_of(request)
        ):
            return self._gate.error(request, 404, "Not Found")
        text = (await request.json()).get("body")
        if not isinstance(text, str) or not text:
            errors = [
                {"resource": "PullRequestReviewComment", "code": "missing_field", "field": "body"}
            ]
            return self._gate.error(request, 422, "Validation Failed", errors=errors)
        made = self._reviews.reply(found.thread_id, self._site.bot, text)
        return self._gate.json(request, 201, self._reviews.comment_json(made))

"""Pull requests and their conversation comments.

Follows docs.github.com/rest "Pulls" (List, Create: 422 Validation Failed for an unknown
head or a second open PR on the same head; Get; Update: title, body, state) and
"Issues: comments" (List issue comments, Create an issue comment: 201, Get an issue
comment), and the webhook payloads `pull_request` (opened, synchronize with
before/after, closed with `pull_request.merged`) and `issue_comment` (created, its
`issue.pull_request` marking a PR's conversation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tests.standins.github.access import AppAccess
from tests.standins.github.gate import RestGate, page_of, repo_of
from tests.standins.github.git_repos import RepoGit
from tests.standins.github.shapes import Site, app, pull_request, user
from tests.standins.github.store import IssueComment, PullState, Store, node_id, now_iso
from tests.standins.github.webhooks import WebhookSender

Json = dict[str, Any]
HeadMoved = Callable[[str, PullState, str], None]
REACTIONS = ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")


class PullRequests:
    """Pull requests, their issue comments, and the webhooks GitHub sends about them."""

    def __init__(
        self,
        store: Store,
        git: RepoGit,
        site: Site,
        gate: RestGate,
        hooks: WebhookSender,
        access: AppAccess,
    ) -> None:
        self._store, self._git, self._site = store, git, site
        self._gate, self._hooks, self._access = gate, hooks, access
        self.head_moved: list[HeadMoved] = []

    def json(self, repo: str, pull: PullState) -> Json:
        """The full pull-request object."""
        return pull_request(self._site, self._git, self._store, repo, pull)

    # --- REST ------------------------------------------------------------------------

    async def list_or_create(self, request: Request) -> Response:
        """GET lists (filtered by head and state, paginated); POST opens a PR."""
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        pulls = self._store.pulls.setdefault(repo, [])
        if request.method == "GET":
            head = request.query_params.get("head", "").partition(":")[2]
            state = request.query_params.get("state", "open")
            found = [p for p in pulls if (not head or p.head == head) and state in ("all", p.state)]
            chunk, link = page_of(request, found)
            return self._gate.json(request, 200, [self.json(repo, p) for p in chunk], link)
        body = await request.json()
        if self._git.branch_sha(repo, body["head"]) is None:
            errors = [{"resource": "PullRequest", "field": "head", "code": "invalid"}]
            return self._gate.error(request, 422, "Validation Failed", errors=errors)
        if self._store.open_pulls_with_head(repo, body["head"]):
            errors = [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for {body['head']}.",
                }
            ]
            return self._gate.error(request, 422, "Validation Failed", errors=errors)
        pull = self.open(
            repo, body["title"], body.get("body") or "", body["head"], body["base"], self._site.bot
        )
        return self._gate.json(request, 201, self.json(repo, pull))

    async def get_or_update(self, request: Request) -> Response:
        """GET a PR; PATCH its title, body or state."""
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        pull = self._store.pull(repo, request.path_params["number"])
        if pull is None:
            return self._gate.error(request, 404, "Not Found")
        if request.method == "PATCH":
            body = await request.json()
            pull.title, pull.body = body.get("title", pull.title), body.get("body", pull.body)
            pull.updated_at = now_iso()
            if body.get("state") == "closed" and pull.state == "open":
                self.close(repo, pull.number, merged=False, by=self._site.bot)
        return self._gate.json(request, 200, self.json(repo, pull))

    async def list_or_create_comments(self, request: Request) -> Response:
        """GET a PR's conversation comments (paginated); POST adds one as the App's bot (201)."""
        repo, number = repo_of(request), request.path_params["number"]
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        if self._store.pull(repo, number) is None:
            return self._gate.error(request, 404, "Not Found")
        if request.method == "GET":
            found = [
                c
                for c in self._store.issue_comments.values()
                if (c.repo, c.number) == (repo, number)
            ]
            chunk, link = page_of(request, found)
            return self._gate.json(request, 200, [self.comment_json(c) for c in chunk], link)
        text = (await request.json()).get("body")
        if not isinstance(text, str) or not text:
            errors = [{"resource": "IssueComment", "code": "missing_field", "field": "body"}]
            return self._gate.error(request, 422, "Validation Failed", errors=errors)
        return self._gate.json(
            request, 201, self.comment_json(self.comment(repo, number, self._site.bot, text))
        )

    async def get_comment(self, request: Request) -> Response:
        """One conversation comment by id."""
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        found = self._store.issue_comments.get(request.path_params["comment_id"])
        if found is None or found.repo != repo:
            return self._gate.error(request, 404, "Not Found")
        return self._gate.json(request, 200, self.comment_json(found))

    # --- what happens on GitHub's side ---------------------------------------------------

    def open(self, repo: str, title: str, body: str, head: str, base: str, by: str) -> PullState:
        """A new open PR; `pull_request` opened goes out and CI reacts to its head."""
        pulls = self._store.pulls.setdefault(repo, [])
        pull = PullState(len(pulls) + 1, title, body, head, base, user=by)
        pull.id = self._store.next_id()
        pull.node_id = node_id("PR", pull.id)
        pulls.append(pull)
        self._hooks.send(
            "pull_request",
            repo,
            by,
            {"action": "opened", "number": pull.number, "pull_request": self.json(repo, pull)},
        )
        self._head_moved(repo, pull)
        return pull

    def pushed(self, repo: str, branch: str, before: str | None) -> None:
        """A push moved `branch`: each open PR on it gets `synchronize`, and CI reacts."""
        for pull in self._store.open_pulls_with_head(repo, branch):
            pull.updated_at = now_iso()
            after = self._git.branch_sha(repo, branch) or ""
            body = {
                "action": "synchronize",
                "number": pull.number,
                "before": before or "",
                "after": after,
            }
            self._hooks.send(
                "pull_request", repo, self._site.bot, body | {"pull_request": self.json(repo, pull)}
            )
            self._head_moved(repo, pull)

    def _head_moved(self, repo: str, pull: PullState) -> None:
        sha = self._git.branch_sha(repo, pull.head) or ""
        for listener in self.head_moved:
            listener(repo, pull, sha)

    def close(self, repo: str, number: int, merged: bool, by: str) -> PullState:
        """Close (or merge) a PR from GitHub's side; `pull_request` closed goes out."""
        pull = self._store.pull(repo, number)
        if pull is None:
            raise KeyError(f"no pull request {repo}#{number}")
        stamp = now_iso()
        pull.state, pull.merged, pull.closed_at, pull.updated_at = "closed", merged, stamp, stamp
        pull.merged_at, pull.merged_by = (stamp, by) if merged else (None, None)
        self._hooks.send(
            "pull_request",
            repo,
            by,
            {"action": "closed", "number": number, "pull_request": self.json(repo, pull)},
        )
        return pull

    def comment(self, repo: str, number: int, by: str, body: str) -> IssueComment:
        """A comment on a PR's conversation; `issue_comment` created goes out."""
        if self._store.pull(repo, number) is None:
            raise KeyError(f"no pull request {repo}#{number}")
        made = IssueComment(self._store.next_id(), repo, number, by, body)
        self._store.issue_comments[made.id] = made
        payload = {
            "action": "created",
            "issue": self.issue_json(repo, number),
            "comment": self.comment_json(made),
        }
        self._hooks.send("issue_comment", repo, by, payload)
        return made

    def comment_json(self, found: IssueComment) -> Json:
        """An `issue-comment` object."""
        api, html = self._site.repo_api(found.repo), self._site.repo_html(found.repo)
        return {
            "id": found.id,
            "node_id": node_id("IC", found.id),
            "url": f"{api}/issues/comments/{found.id}",
            "html_url": f"{html}/pull/{found.number}#issuecomment-{found.id}",
            "issue_url": f"{api}/issues/{found.number}",
            "body": found.body,
            "user": user(self._site, found.user),
            "created_at": found.created_at,
            "updated_at": found.updated_at,
            "author_association": self._access.author_association(found.repo, found.user),
            "performed_via_github_app": app(self._site, self._site.app_slug)
            if found.user == self._site.bot
            else None,
            "reactions": reactions(f"{api}/issues/comments/{found.id}/reactions"),
        }

    def issue_json(self, repo: str, number: int) -> Json:
        """The `issue` side of a pull request, as `issue_comment` payloads carry it."""
        pull = self._store.pull(repo, number)
        assert pull is not None
        full = self.json(repo, pull)
        api = f"{self._site.repo_api(repo)}/issues/{number}"
        return {
            key: full[key]
            for key in (
                "id",
                "node_id",
                "number",
                "title",
                "user",
                "labels",
                "state",
                "locked",
                "assignee",
                "assignees",
                "milestone",
                "comments",
                "created_at",
                "updated_at",
                "closed_at",
                "author_association",
                "active_lock_reason",
                "body",
                "draft",
            )
        } | {
            "url": api,
            "repository_url": self._site.repo_api(repo),
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "timeline_url": f"{api}/timeline",
            "html_url": full["html_url"],
            "reactions": reactions(f"{api}/reactions"),
            "performed_via_github_app": None,
            "state_reason": None,
            "pull_request": {
                "url": full["url"],
                "html_url": full["html_url"],
                "diff_url": full["diff_url"],
                "patch_url": full["patch_url"],
                "merged_at": full["merged_at"],
            },
        }


def reactions(url: str) -> Json:
    """An empty `reaction-rollup`."""
    return {"url": url, "total_count": 0} | dict.fromkeys(REACTIONS, 0)

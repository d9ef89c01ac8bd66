"""What the pull-request loop reads from and writes to GitHub.

Reads: a commit's failed check runs (REST "Checks: check runs", List check runs for a Git
reference), an Actions job's steps ("Actions: workflow jobs", Get a job) and its log
(Download job logs: a 302 to a short-lived plain-text URL, fetched without our token),
other CIs' failed commit statuses (Get the combined status), a review ("Pulls: reviews",
Get a review) and a pull request's review threads over GraphQL (`reviewThreads` with
`first/after` pagination, each with path, line, diff hunk and its whole conversation).
Writes: a reply in a thread (`addPullRequestReviewThreadReply`), its resolution
(`resolveReviewThread`) and a conversation comment ("Issues: comments").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from agent_runner.pull_requests.github import GitHubClient, GitHubError
from dursor_contracts.pull_requests import CiStatus
from dursor_store.pull_requests import ci_status_of

ACTIONS_APP = "github-actions"
MAX_LOG_BYTES = 5_000_000
THREADS_QUERY = """
query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 50, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id isResolved isOutdated path line originalLine
          comments(first: 100) {
            nodes { author { login } body diffHunk url }
          }
        }
      }
    }
  }
}
"""
REPLY_MUTATION = """
mutation($thread: ID!, $body: String!) {
  addPullRequestReviewThreadReply(input: {pullRequestReviewThreadId: $thread, body: $body}) {
    comment { url }
  }
}
"""
RESOLVE_MUTATION = """
mutation($thread: ID!) {
  resolveReviewThread(input: {threadId: $thread}) { thread { isResolved } }
}
"""


@dataclass(frozen=True)
class FailedCheck:
    """A failed check of a commit: a check run (maybe an Actions job) or a commit status."""

    name: str
    conclusion: str
    url: str | None
    app: str
    job: str | None = None
    failed_steps: tuple[str, ...] = ()
    log: str | None = None


@dataclass(frozen=True)
class ThreadComment:
    """One comment of a review thread's conversation."""

    author: str
    body: str


@dataclass(frozen=True)
class ReviewThread:
    """An unresolved review thread: where it is, its hunk and its conversation."""

    id: str
    path: str
    line: int | None
    diff_hunk: str
    url: str | None
    outdated: bool
    comments: tuple[ThreadComment, ...] = field(default_factory=tuple)


def graphql_url(api_base: str) -> str:
    """GitHub's GraphQL endpoint beside a REST base (github.com or Enterprise Server)."""
    base = api_base.rstrip("/")
    return base.removesuffix("/v3") + "/graphql" if base.endswith("/api/v3") else base + "/graphql"


class LoopGitHub:
    """GitHub calls of the loop with one repository-scoped installation token."""

    def __init__(self, http: httpx.AsyncClient, api_base: str, token: str) -> None:
        self._http = http
        self._rest = GitHubClient(http, api_base, token)
        self._graphql = GitHubClient(http, graphql_url(api_base), token)

    async def failed_checks(self, repo: str, sha: str) -> list[FailedCheck]:
        """The commit's failed check runs (Actions jobs with their failed steps and log)."""
        found: list[FailedCheck] = []
        for run in await self._check_runs(repo, sha):
            if _failed(run.get("conclusion")):
                found.append(await self._check(repo, run))
        status = (await self._rest.request("GET", f"/repos/{repo}/commits/{sha}/status")).json()
        for item in status.get("statuses", []):
            if _failed(item.get("state")):
                found.append(
                    FailedCheck(
                        name=str(item.get("context")),
                        conclusion=str(item.get("state")),
                        url=item.get("target_url"),
                        app="commit status",
                        log=item.get("description"),
                    )
                )
        return found

    async def _check_runs(self, repo: str, sha: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = []
        for page in range(1, 11):
            response = await self._rest.request(
                "GET",
                f"/repos/{repo}/commits/{sha}/check-runs",
                params={"filter": "latest", "per_page": "100", "page": str(page)},
            )
            body = response.json()
            runs += body.get("check_runs", [])
            if len(runs) >= int(body.get("total_count", 0)):
                break
        return runs

    async def _check(self, repo: str, run: dict[str, Any]) -> FailedCheck:
        app = str((run.get("app") or {}).get("slug", ""))
        check = FailedCheck(
            name=str(run.get("name")),
            conclusion=str(run.get("conclusion")),
            url=run.get("details_url") or run.get("html_url"),
            app=app,
        )
        if app != ACTIONS_APP:
            return check
        job = (await self._rest.request("GET", f"/repos/{repo}/actions/jobs/{run['id']}")).json()
        steps = tuple(
            str(s.get("name")) for s in job.get("steps", []) if _failed(s.get("conclusion"))
        )
        return FailedCheck(
            name=check.name,
            conclusion=check.conclusion,
            url=job.get("html_url") or check.url,
            app=app,
            job=str(job.get("name")),
            failed_steps=steps,
            log=await self._job_log(repo, int(run["id"])),
        )

    async def _job_log(self, repo: str, job_id: int) -> str | None:
        """The job's plain-text log, or None when GitHub has none (yet, or any more)."""
        try:
            answer = await self._rest.request("GET", f"/repos/{repo}/actions/jobs/{job_id}/logs")
        except GitHubError:
            return None
        location = answer.headers.get("location")
        if answer.status_code not in (301, 302, 307) or not location:
            return answer.text
        # The download URL is pre-signed: our token must not travel to it.
        download = await self._http.get(location, timeout=30.0)
        if download.status_code != 200:
            return None
        return download.content[-MAX_LOG_BYTES:].decode(errors="replace")

    async def review(self, repo: str, number: int, review_id: int) -> dict[str, Any]:
        """One submitted review (state, body, author)."""
        path = f"/repos/{repo}/pulls/{number}/reviews/{review_id}"
        body: dict[str, Any] = (await self._rest.request("GET", path)).json()
        return body

    async def unresolved_threads(self, repo: str, number: int) -> list[ReviewThread]:
        """Every unresolved review thread of the pull request, oldest first."""
        owner, name = repo.split("/", 1)
        threads: list[ReviewThread] = []
        after: str | None = None
        while True:
            variables = {"owner": owner, "name": name, "number": number, "after": after}
            data = await self._query(THREADS_QUERY, variables)
            page = data["repository"]["pullRequest"]["reviewThreads"]
            threads += [_thread(n) for n in page["nodes"] if n and not n["isResolved"]]
            if not page["pageInfo"]["hasNextPage"]:
                return threads
            after = page["pageInfo"]["endCursor"]

    async def reply(self, thread_id: str, body: str) -> None:
        """Answer in a review thread."""
        await self._query(REPLY_MUTATION, {"thread": thread_id, "body": body})

    async def resolve(self, thread_id: str) -> None:
        """Resolve a review thread."""
        await self._query(RESOLVE_MUTATION, {"thread": thread_id})

    async def comment(self, repo: str, number: int, body: str) -> None:
        """A comment on the pull request's conversation."""
        await self._rest.request(
            "POST", f"/repos/{repo}/issues/{number}/comments", json={"body": body}
        )

    async def _query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = (
            await self._graphql.request("POST", "", json={"query": query, "variables": variables})
        ).json()
        if answer.get("errors"):
            message = "; ".join(str(e.get("message")) for e in answer["errors"])
            raise GitHubError(200, f"GraphQL: {message}")
        data: dict[str, Any] = answer["data"]
        return data


def _failed(conclusion: str | None) -> bool:
    """A check's conclusion (or a status's state) that means failed CI: the store's mapping."""
    return ci_status_of(conclusion) is CiStatus.FAILURE


def _thread(node: dict[str, Any]) -> ReviewThread:
    comments = [c for c in node["comments"]["nodes"] if c]
    first = comments[0] if comments else {}
    return ReviewThread(
        id=str(node["id"]),
        path=str(node["path"]),
        line=node.get("line") or node.get("originalLine"),
        diff_hunk=str(first.get("diffHunk", "")),
        url=first.get("url"),
        outdated=bool(node.get("isOutdated")),
        comments=tuple(
            ThreadComment(str((c.get("author") or {}).get("login", "ghost")), str(c["body"]))
            for c in comments
        ),
    )

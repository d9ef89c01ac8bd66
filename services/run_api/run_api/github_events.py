"""GitHub webhook events, already verified by the gateway: CI, PR state, review comments.

CI and PR-state events update the pull request record at once and are noted on the run,
so the task stream shows them; agent-runner's poller later reconciles the full CI
picture. A review comment that mentions dursor becomes a follow-up message on the run
that produced the PR, when GitHub confirms its author may write to the repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dursor_contracts.auth import Principal, Role
from dursor_contracts.db import all_rows, one_or_none
from dursor_contracts.eventlog import NewEvent, append_events
from dursor_contracts.events import EventType, ProgressData
from dursor_contracts.outbox import OutboxRelay
from dursor_contracts.problems import ProblemError
from dursor_contracts.schema import pull_requests, repos, runs, tasks
from run_api.github_permissions import WriteAccess
from run_api.run_service import RunService

log = structlog.get_logger(__name__)

TRUSTED_AUTHORS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
CONCLUSIONS = {
    "success": "success",
    "neutral": "success",
    "skipped": "success",
    "failure": "failure",
    "timed_out": "failure",
    "cancelled": "failure",
    "action_required": "failure",
    "startup_failure": "failure",
    "error": "failure",
    "pending": "pending",
}


@dataclass(frozen=True)
class GitHubEvent:
    """One webhook delivery: its event name, delivery id and payload."""

    name: str
    delivery: str
    payload: dict[str, Any]


def ci_signal(event: GitHubEvent) -> tuple[str, str] | None:
    """(head sha, ci status) an event tells, or None if it says nothing about CI."""
    body = event.payload
    if event.name == "status":
        return body["sha"], CONCLUSIONS.get(body.get("state", ""), "pending")
    if event.name in ("check_run", "check_suite"):
        item = body[event.name]
        conclusion = item.get("conclusion")
        return item["head_sha"], CONCLUSIONS.get(conclusion, "pending") if conclusion else "pending"
    return None


def mention_of(event: GitHubEvent, mention: str) -> tuple[int, str, str] | None:
    """(PR number, follow-up text, author) of a trusted comment addressed to dursor."""
    if event.name not in ("pull_request_review_comment", "issue_comment"):
        return None
    body = event.payload
    comment = body.get("comment") or {}
    number = (body.get("pull_request") or body.get("issue") or {}).get("number")
    if body.get("action") != "created" or number is None:
        return None
    if event.name == "issue_comment" and "pull_request" not in (body.get("issue") or {}):
        return None
    text = str(comment.get("body", ""))
    if (
        mention.lower() not in text.lower()
        or comment.get("author_association") not in TRUSTED_AUTHORS
    ):
        return None
    instruction = text.replace(mention, "").strip()
    return int(number), instruction, str((comment.get("user") or {}).get("login", "github"))


class GitHubEvents:
    """Applies webhook events to pull request records and runs."""

    def __init__(
        self,
        engine: AsyncEngine,
        relay: OutboxRelay,
        runs: RunService,
        mention: str,
        write_access: WriteAccess,
    ) -> None:
        self._engine = engine
        self._relay = relay
        self._runs = runs
        self._mention = mention
        self._write_access = write_access

    async def handle(self, event: GitHubEvent) -> str:
        """What the event did: `ci`, `state`, `follow-up` or `ignored`."""
        if (signal := ci_signal(event)) is not None:
            return "ci" if await self._set_ci(*signal) else "ignored"
        if event.name == "pull_request":
            return "state" if await self._set_state(event.payload) else "ignored"
        if (mention := mention_of(event, self._mention)) is not None:
            return "follow-up" if await self._follow_up(event, *mention) else "ignored"
        return "ignored"

    async def _set_ci(self, sha: str, status: str) -> bool:
        async with self._engine.begin() as conn:
            prs = await all_rows(
                conn,
                update(pull_requests)
                .where(pull_requests.c.head_sha == sha, pull_requests.c.state == "open")
                .values(ci_status=status, updated_at=func.now())
                .returning(pull_requests.c.run_id, pull_requests.c.number),
            )
            for pr in prs:
                await _note(conn, pr.run_id, f"pull request #{pr.number}: CI {status}", "ci")
        self._relay.notify()
        return bool(prs)

    async def _set_state(self, payload: dict[str, Any]) -> bool:
        pull = payload["pull_request"]
        state = "merged" if pull.get("merged") else pull["state"]
        async with self._engine.begin() as conn:
            pr = await one_or_none(
                conn,
                update(pull_requests)
                .where(pull_requests.c.url == pull["html_url"])
                .values(state=state, updated_at=func.now())
                .returning(pull_requests.c.run_id, pull_requests.c.number),
            )
            if pr is not None:
                await _note(conn, pr.run_id, f"pull request #{pr.number}: {state}", "pull-request")
        self._relay.notify()
        return pr is not None

    async def _follow_up(self, event: GitHubEvent, number: int, text: str, author: str) -> bool:
        html_url = str((event.payload.get("pull_request") or event.payload["issue"])["html_url"])
        found = await self._run_of_pull_request(html_url, number)
        if found is None or not text:
            return False
        run_id, repo_url = found
        principal = Principal(
            subject=author, issuer="https://github.com", username=author, role=Role.DEVELOPER
        )
        try:
            if not await self._write_access(repo_url, author):
                log.info("review comment by a reader ignored", run_id=str(run_id), author=author)
                await self._note_refusal(run_id, author, "no write permission on the repository")
                return False
            await self._runs.follow_up(principal, run_id, text)
        # Permission unknown, busy run, limits: the comment is not lost, only not run.
        except ProblemError as exc:
            log.warning("review comment not followed up", run_id=str(run_id), reason=exc.detail)
            await self._note_refusal(run_id, author, exc.detail or exc.title)
            return False
        log.info("review comment became a follow-up", run_id=str(run_id), author=author)
        return True

    async def _run_of_pull_request(self, html_url: str, number: int) -> tuple[Any, str] | None:
        """The run behind a PR and its repository's URL."""
        async with self._engine.connect() as conn:
            found = await one_or_none(
                conn,
                select(pull_requests.c.run_id, repos.c.url)
                .select_from(
                    pull_requests.join(runs, runs.c.id == pull_requests.c.run_id)
                    .join(tasks, tasks.c.id == runs.c.task_id)
                    .join(repos, repos.c.id == tasks.c.repo_id)
                )
                .where(pull_requests.c.url == html_url, pull_requests.c.number == number),
            )
        return (found.run_id, found.url) if found is not None else None

    async def _note_refusal(self, run_id: Any, author: str, reason: str) -> None:
        async with self._engine.begin() as conn:
            await _note(
                conn, run_id, f"a review comment by {author} was not run: {reason}", "pull-request"
            )
        self._relay.notify()


async def _note(conn: AsyncConnection, run_id: Any, message: str, step: str) -> None:
    await append_events(
        conn, run_id, [NewEvent(EventType.PROGRESS, ProgressData(message=message, step=step))]
    )

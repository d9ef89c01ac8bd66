"""GitHub webhook events, already verified by the gateway: CI, PR state, reviews, comments.

CI and PR-state events update the pull request record at once and are noted on the run,
so the task stream shows them; agent-runner's poller later reconciles the full CI
picture. They also feed the pull request's loop (`loop_intake`): failed CI and reviews
asking for changes become triggers. A comment that mentions dursor becomes a follow-up
on the run that produced the PR, when GitHub confirms its author may write to the
repository: at once when the run is free, else as the loop's next turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog

from dursor_contracts.pull_requests import CiStatus, LoopTriggerKind, PullRequestState
from dursor_kit.auth.verifier import Principal, Role
from dursor_kit.db.unit_of_work import Transactions
from dursor_kit.errors import Conflict, DomainError
from dursor_store import pr_loop
from dursor_store import pull_requests as pr_sql
from dursor_store.pr_loop import NewTrigger
from dursor_store.pull_requests import ci_status_of
from run_api.github.loop_intake import LoopIntake, ci_verdict, review_ask
from run_api.github.notes import note
from run_api.github.write_access import WriteAccess
from run_api.runs.service import RunService

log = structlog.get_logger(__name__)

TRUSTED_AUTHORS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})


@dataclass(frozen=True)
class GitHubEvent:
    """One webhook delivery: its event name, delivery id and payload."""

    name: str
    delivery: str
    payload: dict[str, Any]


def ci_signal(event: GitHubEvent) -> tuple[str, CiStatus] | None:
    """(head sha, ci status) an event tells, or None if it says nothing about CI."""
    body = event.payload
    if event.name == "status":
        return body["sha"], ci_status_of(body.get("state"))
    if event.name in ("check_run", "check_suite"):
        item = body[event.name]
        return item["head_sha"], ci_status_of(item.get("conclusion"))
    return None


def mention_of(event: GitHubEvent, mention: str) -> tuple[int, str, str] | None:
    """(PR number, follow-up text, author) of a trusted comment addressed to dursor.

    A review comment that belongs to a review is the review's (`loop_intake`), not this.
    """
    if event.name not in ("pull_request_review_comment", "issue_comment"):
        return None
    body = event.payload
    comment = body.get("comment") or {}
    if comment.get("pull_request_review_id") is not None:
        return None
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
        transactions: Transactions,
        runs: RunService,
        mention: str,
        write_access: WriteAccess,
    ) -> None:
        self._transactions = transactions
        self._runs = runs
        self._mention = mention
        self._write_access = write_access
        self._loop = LoopIntake(transactions, write_access)

    async def handle(self, event: GitHubEvent) -> str:
        """What the event did: `ci`, `state`, `follow-up`, `duplicate` or `ignored`."""
        if (signal := ci_signal(event)) is not None:
            changed = await self._set_ci(*signal)
            verdict = ci_verdict(event.name, event.payload)
            looped = verdict is not None and await self._loop.on_ci(verdict, event.delivery)
            return "ci" if changed or looped else "ignored"
        if event.name == "pull_request":
            changed = await self._set_state(event.payload)
            looped = await self._loop.on_pull_request(event.payload)
            return "state" if changed or looped else "ignored"
        if (ask := review_ask(event.name, event.payload, self._mention)) is not None:
            return await self._loop.on_review(ask, event.delivery)
        if (mention := mention_of(event, self._mention)) is not None:
            return await self._follow_up(event, *mention)
        return "ignored"

    async def _set_ci(self, sha: str, status: CiStatus) -> bool:
        async with self._transactions.begin() as work:
            prs = await pr_sql.set_ci_of_head(work, sha, status)
            for pr in prs:
                await note(work, pr.run_id, f"pull request #{pr.number}: CI {status}", "ci")
        return bool(prs)

    async def _set_state(self, payload: dict[str, Any]) -> bool:
        pull = payload["pull_request"]
        state = PullRequestState.MERGED if pull.get("merged") else PullRequestState(pull["state"])
        async with self._transactions.begin() as work:
            pr = await pr_sql.set_state_of_url(work, pull["html_url"], state)
            if pr is not None:
                await note(work, pr.run_id, f"pull request #{pr.number}: {state}", "pull-request")
        return pr is not None

    async def _follow_up(self, event: GitHubEvent, number: int, text: str, author: str) -> str:
        html_url = str((event.payload.get("pull_request") or event.payload["issue"])["html_url"])
        found = await self._run_of_pull_request(html_url, number)
        if found is None or not text:
            return "ignored"
        run_id, repo_url = found
        try:
            if not await self._write_access(repo_url, author):
                log.info("review comment by a reader ignored", run_id=str(run_id), author=author)
                await self._note_refusal(run_id, author, "no write permission on the repository")
                return "ignored"
        # Permission unknown: the comment is not lost, only not run.
        except DomainError as exc:
            log.warning("review comment not followed up", run_id=str(run_id), reason=exc.detail)
            await self._note_refusal(run_id, author, exc.detail)
            return "ignored"
        return await self._comment_turn(event, html_url, text, author)

    async def _comment_turn(self, event: GitHubEvent, html_url: str, text: str, author: str) -> str:
        """The comment's turn now if the run is free, else as the loop's next (`follow-up`)."""
        comment_id = (event.payload.get("comment") or {}).get("id")
        new = NewTrigger(
            kind=LoopTriggerKind.COMMENT,
            key=f"comment:{comment_id}" if comment_id else f"delivery:{event.delivery}",
            source=str(comment_id or event.delivery),
            author=author,
            delivery_id=event.delivery,
            note=text,
        )
        principal = Principal(
            subject=author, issuer="https://github.com", username=author, role=Role.DEVELOPER
        )
        for now in (True, False):
            try:
                return await self._record_comment(html_url, new, principal, now)
            except Conflict as exc:  # busy run or limits: it waits as the loop's next turn
                log.info("comment waits for the run", reason=exc.detail)
        return "ignored"

    async def _record_comment(
        self, html_url: str, new: NewTrigger, principal: Principal, now: bool
    ) -> str:
        async with self._transactions.begin() as work:
            pr = await pr_loop.of_url(work.conn, html_url)
            if pr is None:
                return "ignored"
            made = await pr_loop.add(work, pr, new)
            if made is None:
                return "duplicate"
            if now:
                queued = await self._runs.follow_up(work, principal, pr.run_id, new.note or "")
                await pr_loop.mark_sent(work.conn, made.id, queued.turn, None, [], None)
                message = f"a review comment by {new.author} became turn {queued.turn}"
            else:
                message = f"loop trigger on #{pr.number}: a comment by {new.author} waits its turn"
            await note(work, pr.run_id, message)
        log.info("comment became a follow-up", run_id=str(pr.run_id), author=new.author)
        return "follow-up"

    async def _run_of_pull_request(self, html_url: str, number: int) -> tuple[UUID, str] | None:
        """The run behind a PR and its repository's URL."""
        async with self._transactions.engine.connect() as conn:
            found = await pr_sql.run_of_pull_request(conn, html_url, number)
        return (found.run_id, found.url) if found is not None else None

    async def _note_refusal(self, run_id: UUID, author: str, reason: str) -> None:
        async with self._transactions.begin() as work:
            await note(
                work, run_id, f"a review comment by {author} was not run: {reason}", "pull-request"
            )

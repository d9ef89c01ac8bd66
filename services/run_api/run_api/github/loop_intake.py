"""What webhooks mean for a pull request's loop: failed CI and reviews become triggers.

Each trigger is recorded once (its key: the head commit for CI, the review's id, the
comment's id) and agent-runner is asked to advance the loop; it sends a trigger as the
run's next turn when the run is free, so one arriving while a turn runs waits its turn.
A green re-run of the failed suite or a newer head cancels a pending CI fix; a closed or
merged pull request cancels everything and stops the loop. Reviews count only from
people GitHub says may write to the repository, never from bots (the App's own replies).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from dursor_contracts.pull_requests import CiStatus, LoopTriggerKind, PullRequestState
from dursor_kit.db.unit_of_work import Transactions, UnitOfWork
from dursor_kit.errors import DomainError
from dursor_store import pr_loop
from dursor_store.pr_loop import LoopPullRequest, NewTrigger
from dursor_store.pull_requests import ci_status_of
from run_api.github.notes import note
from run_api.github.write_access import WriteAccess

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CiVerdict:
    """One CI source's verdict on a commit: a check suite's, or a commit status's context."""

    head_sha: str
    source: str
    status: CiStatus


@dataclass(frozen=True)
class ReviewAsk:
    """A submitted review (or one of its comments) that asks dursor for changes."""

    pull_url: str
    review_id: int
    author: str


def ci_verdict(name: str, payload: dict[str, Any]) -> CiVerdict | None:
    """A completed check suite's or a commit status's verdict; None for anything else."""
    if name == "check_suite" and payload.get("action") == "completed":
        suite = payload["check_suite"]
        status = ci_status_of(suite.get("conclusion"))
        return CiVerdict(suite["head_sha"], f"check-suite:{suite.get('id')}", status)
    if name == "status":
        status = ci_status_of(payload.get("state"))
        return CiVerdict(payload["sha"], f"status:{payload.get('context')}", status)
    return None


def _by_a_bot(payload: dict[str, Any], item: dict[str, Any]) -> bool:
    people = (payload.get("sender") or {}, item.get("user") or {})
    return any(p.get("type") == "Bot" for p in people)


def review_ask(name: str, payload: dict[str, Any], mention: str) -> ReviewAsk | None:
    """A review asking for changes or mentioning dursor, or a review comment mentioning it."""
    pull = payload.get("pull_request") or {}
    if name == "pull_request_review" and payload.get("action") == "submitted":
        review = payload["review"]
        asks = str(review.get("state", "")).lower() == "changes_requested"
        addressed = mention.lower() in str(review.get("body") or "").lower()
        if (asks or addressed) and not _by_a_bot(payload, review):
            return ReviewAsk(pull["html_url"], int(review["id"]), _login(review))
    if name == "pull_request_review_comment" and payload.get("action") == "created":
        comment = payload["comment"]
        review_id = comment.get("pull_request_review_id")
        addressed = mention.lower() in str(comment.get("body") or "").lower()
        if review_id is not None and addressed and not _by_a_bot(payload, comment):
            return ReviewAsk(pull["html_url"], int(review_id), _login(comment))
    return None


def _login(item: dict[str, Any]) -> str:
    return str((item.get("user") or {}).get("login", "github"))


class LoopIntake:
    """Records loop triggers and cancellations from webhook events."""

    def __init__(self, transactions: Transactions, write_access: WriteAccess) -> None:
        self._transactions = transactions
        self._write_access = write_access

    async def on_ci(self, verdict: CiVerdict, delivery: str) -> bool:
        """A failure becomes a CI-fix trigger; a success cancels that source's pending fix."""
        changed = False
        async with self._transactions.begin() as work:
            for pr in await pr_loop.open_at_head(work.conn, verdict.head_sha):
                if verdict.status is CiStatus.FAILURE:
                    changed |= await self._ci_failed(work, pr, verdict, delivery)
                elif verdict.status is CiStatus.SUCCESS:
                    changed |= await self._ci_passed(work, pr, verdict)
        return changed

    async def _ci_failed(
        self, work: UnitOfWork, pr: LoopPullRequest, verdict: CiVerdict, delivery: str
    ) -> bool:
        recorded = await pr_loop.record_ci_failure(
            work, pr, verdict.head_sha, verdict.source, delivery
        )
        if recorded is not None:
            await note(work, pr.run_id, recorded)
        return recorded is not None

    async def _ci_passed(self, work: UnitOfWork, pr: LoopPullRequest, verdict: CiVerdict) -> bool:
        cancelled = await pr_loop.cancel_pending(
            work.conn,
            pr.id,
            "CI passed on a re-run",
            kind=LoopTriggerKind.CI,
            head_sha=verdict.head_sha,
            source=verdict.source,
        )
        if cancelled:
            message = f"loop on #{pr.number}: CI passed on a re-run, the pending fix is cancelled"
            await note(work, pr.run_id, message)
        return bool(cancelled)

    async def on_pull_request(self, payload: dict[str, Any]) -> bool:
        """A newer head cancels pending CI fixes; a closed PR cancels all and stops."""
        action = payload.get("action")
        if action not in ("synchronize", "closed"):
            return False
        async with self._transactions.begin() as work:
            pr = await pr_loop.of_url(work.conn, payload["pull_request"]["html_url"])
            if pr is None:
                return False
            if action == "synchronize":
                return await self._head_moved(work, pr, str(payload.get("after") or ""))
            return await self._closed(work, pr, bool(payload["pull_request"].get("merged")))

    async def _head_moved(self, work: UnitOfWork, pr: LoopPullRequest, head: str) -> bool:
        cancelled = await pr_loop.cancel_pending(
            work.conn, pr.id, "a newer head commit", kind=LoopTriggerKind.CI, head_other_than=head
        )
        if cancelled:
            message = f"loop on #{pr.number}: a newer head {head[:12]} cancels the pending fix"
            await note(work, pr.run_id, message)
        return bool(cancelled)

    async def _closed(self, work: UnitOfWork, pr: LoopPullRequest, merged: bool) -> bool:
        reason = "the pull request was merged" if merged else "the pull request was closed"
        await pr_loop.cancel_pending(work.conn, pr.id, reason)
        if await pr_loop.stop(work, pr.id, reason):
            await note(work, pr.run_id, f"loop stopped on #{pr.number}: {reason}")
            return True
        return False

    async def on_review(self, ask: ReviewAsk, delivery: str) -> str:
        """A review by a writer becomes one trigger (`follow-up`), else `ignored`/`duplicate`."""
        async with self._transactions.engine.connect() as conn:
            pr = await pr_loop.of_url(conn, ask.pull_url)
        if pr is None or pr.state is not PullRequestState.OPEN:
            return "ignored"
        if not await self._may_write(pr, ask.author):
            return "ignored"
        new = NewTrigger(
            kind=LoopTriggerKind.REVIEW,
            key=f"review:{ask.review_id}",
            source=str(ask.review_id),
            author=ask.author,
            delivery_id=delivery,
        )
        async with self._transactions.begin() as work:
            if await pr_loop.add(work, pr, new) is None:
                return "duplicate"
            message = f"loop trigger on #{pr.number}: review {ask.review_id} by {ask.author}"
            await note(work, pr.run_id, message)
        log.info("review became a loop trigger", run_id=str(pr.run_id), review=ask.review_id)
        return "follow-up"

    async def _may_write(self, pr: LoopPullRequest, author: str) -> bool:
        reason = "no write permission on the repository"
        try:
            allowed = await self._write_access(pr.repo_url, author)
        except DomainError as exc:  # permission unknown: the review is not lost, only not run
            allowed, reason = False, exc.detail
        if not allowed:
            async with self._transactions.begin() as work:
                await note(work, pr.run_id, f"a review by {author} was not run: {reason}")
        return allowed

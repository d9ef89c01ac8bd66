"""Advance a pull request's loop: finish the round whose turn ended, say a stop, send the next.

One advance holds the pull request's loop (`pr_loop.lock`, an advisory lock), so
replicas and repeated asks take turns and never double a step. A round whose turn
ended is finished first: after a successful, pushed turn each thread the agent was
sent gets a reply with the commit and is resolved when the repository allows it. A CI
loop out of rounds says so once on the pull request. Then, when the run is free, the
oldest pending trigger is checked again (the PR still open, the head unchanged and
still red) and becomes the run's next turn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog

from agent_runner.pull_requests.github import GitHubError
from agent_runner.pull_requests.loop_briefs import ci_brief, comment_brief, review_brief
from agent_runner.pull_requests.loop_github import LoopGitHub
from agent_runner.pull_requests.publisher import TokenSource, github_repo
from dursor_contracts.events import EventType, ProgressData, RunStatus
from dursor_contracts.pull_requests import LoopTriggerKind, LoopTriggerState, PullRequestState
from dursor_kit.db.unit_of_work import Transactions, UnitOfWork
from dursor_store import pr_loop, run_lifecycle
from dursor_store.eventlog import NewEvent, append_events
from dursor_store.pr_loop import LoopPullRequest, TriggerRow

log = structlog.get_logger(__name__)

SHOWN_CHARS = 2_000
PUSH_WAIT = timedelta(minutes=10)


@dataclass(frozen=True)
class Brief:
    """What one trigger sends the agent, and the threads it answers."""

    text: str
    threads: list[dict[str, str]]


@dataclass
class PullRequestLoop:
    """Advances loops; GitHub is reached with a repository-scoped installation token."""

    transactions: Transactions
    tokens: TokenSource
    github: Callable[[str], LoopGitHub]
    github_hosts: list[str]

    async def advance(self, pr_id: UUID) -> None:
        """One step of the pull request's loop (after any other worker's step on it)."""
        async with self.transactions.begin() as work:
            if not await pr_loop.has_open_work(work.conn, pr_id):
                return
            pr = await pr_loop.lock(work.conn, pr_id)
            if pr is None or pr.number is None:
                return
            repo = github_repo(pr.repo_url, self.github_hosts)
            if repo is None:
                return
            github = self.github(await self.tokens(pr.repo_url))
            step = _Step(work, pr, repo.full_name, github)
            if await step.finish_sent():
                await step.say_stops()
                await step.send_next()


@dataclass
class _Step:
    """One advance of one pull request's loop, inside its transaction."""

    work: UnitOfWork
    pr: LoopPullRequest
    repo: str
    github: LoopGitHub

    async def finish_sent(self) -> bool:
        """Finish the round whose turn ended; False while a round's turn is still under way."""
        for trigger in await pr_loop.in_state(self.work.conn, self.pr.id, LoopTriggerState.SENT):
            if trigger.turn is not None and trigger.turn < self.pr.run_turn:
                await self._done(trigger, "a later turn followed")
                continue
            if not self.pr.run_status.is_terminal or not self._pushed():
                return False
            await self._finish(trigger)
        return True

    def _pushed(self) -> bool:
        """A succeeded turn's commit is the pull request's head (its push is done).

        After `PUSH_WAIT` the round is finished anyway (someone else pushed meanwhile, or
        the push failed): a loop never waits for ever on one head.
        """
        if self.pr.run_status is not RunStatus.SUCCEEDED or self.pr.run_commit_sha is None:
            return True
        if self.pr.state is not PullRequestState.OPEN or self.pr.head_sha == self.pr.run_commit_sha:
            return True
        ended = self.pr.run_finished_at
        return ended is not None and datetime.now(UTC) - ended > PUSH_WAIT

    async def _finish(self, trigger: TriggerRow) -> None:
        if self.pr.run_status is not RunStatus.SUCCEEDED:
            await self._done(trigger, f"turn {trigger.turn} {self.pr.run_status}")
            return
        head = self.pr.head_sha or ""
        commit_url = f"{_repo_html(self.pr)}/commit/{head}"
        for thread in trigger.threads:
            await self.github.reply(thread["id"], f"Addressed in {commit_url} (dursor).")
            if self.pr.resolve_threads:
                await self.github.resolve(thread["id"])
        answered = len(trigger.threads)
        resolved = " and resolved" if answered and self.pr.resolve_threads else ""
        outcome = f"pushed {head[:12]}" + (
            f"; replied in {answered} threads{resolved}" if answered else ""
        )
        await self._done(trigger, outcome)
        await self._note(f"loop round on #{self.pr.number} ({trigger.kind}) done: {outcome}")

    async def _done(self, trigger: TriggerRow, outcome: str) -> None:
        await pr_loop.finish(self.work.conn, trigger.id, LoopTriggerState.DONE, outcome)

    async def say_stops(self) -> None:
        """A CI loop out of rounds says so on the pull request, once."""
        for trigger in await pr_loop.in_state(
            self.work.conn, self.pr.id, LoopTriggerState.EXHAUSTED
        ):
            checks = await self.github.failed_checks(self.repo, trigger.head_sha or "")
            names = ", ".join(f"`{c.name}`" for c in checks) or "the checks"
            body = (
                f"dursor stopped fixing CI on this pull request: {names} still fail on "
                f"{trigger.head_sha} after {self.pr.ci_fix_rounds} automatic fix rounds "
                f"(the limit is {self.pr.max_rounds}). A person needs to look at it now."
            )
            await self.github.comment(self.repo, self.pr.number or 0, body)
            outcome = "the stop was said on the pull request"
            await pr_loop.finish(self.work.conn, trigger.id, LoopTriggerState.STOPPED, outcome)
            await self._note(f"loop stopped on #{self.pr.number}: {body}")

    async def send_next(self) -> None:
        """The oldest pending trigger becomes the run's next turn, if still wanted."""
        for trigger in await pr_loop.in_state(self.work.conn, self.pr.id, LoopTriggerState.PENDING):
            if not self.pr.run_status.is_terminal:
                return
            moot = self._moot(trigger)
            brief = None if moot else await self._brief(trigger)
            if brief is None:
                why = moot or "nothing left to answer"
                await pr_loop.finish(self.work.conn, trigger.id, LoopTriggerState.CANCELLED, why)
                await self._note(f"loop trigger {trigger.trigger_key} dropped: {why}")
                continue
            await self._send(trigger, brief)
            return

    def _moot(self, trigger: TriggerRow) -> str | None:
        if self.pr.state is not PullRequestState.OPEN:
            return f"the pull request is {self.pr.state}"
        if trigger.kind is LoopTriggerKind.CI:
            if self.pr.loop_stopped is not None:
                return self.pr.loop_stopped
            if trigger.head_sha != self.pr.head_sha:
                return "a newer head commit"
        return None

    async def _brief(self, trigger: TriggerRow) -> Brief | None:
        number = self.pr.number or 0
        if trigger.kind is LoopTriggerKind.CI:
            checks = await self.github.failed_checks(self.repo, trigger.head_sha or "")
            if not checks:
                return None  # green by now (a re-run passed)
            text = ci_brief(
                checks, trigger.head_sha or "", self.pr.ci_fix_rounds + 1, self.pr.max_rounds
            )
            return Brief(text, [])
        threads = await self.github.unresolved_threads(self.repo, number)
        listed = [{"id": t.id, "path": t.path} for t in threads]
        if trigger.kind is LoopTriggerKind.COMMENT:
            return Brief(comment_brief(trigger.note or "", threads), [])
        if not threads:
            return None
        review = await self.github.review(self.repo, number, int(trigger.source))
        text = review_brief(
            threads, trigger.author, str(review.get("state")), str(review.get("body") or ""), number
        )
        return Brief(text, listed)

    async def _send(self, trigger: TriggerRow, brief: Brief) -> None:
        queued = await run_lifecycle.queue_next_turn(self.work, self.pr.run_id)
        if queued is None:
            return  # the run took another turn meanwhile: the trigger waits for it
        round_ = None
        if trigger.kind is LoopTriggerKind.CI:
            round_ = await pr_loop.count_ci_round(self.work.conn, self.pr.id)
        await pr_loop.mark_sent(
            self.work.conn, trigger.id, queued.turn, brief.text, brief.threads, round_
        )
        what = f"CI fix round {round_} of {self.pr.max_rounds}" if round_ else trigger.kind
        shown = brief.text[:SHOWN_CHARS]
        await self._note(
            f"loop round on #{self.pr.number}: {what} ({trigger.trigger_key}) is turn "
            f"{queued.turn}; sent to the agent:\n{shown}"
        )
        log.info("loop trigger sent", pr=self.pr.number, trigger=trigger.trigger_key)

    async def _note(self, message: str) -> None:
        note = ProgressData(message=message, step="loop")
        await append_events(self.work, self.pr.run_id, [NewEvent(EventType.PROGRESS, note)])


def _repo_html(pr: LoopPullRequest) -> str:
    return (pr.url or "").rsplit("/pull/", 1)[0]


async def advance_safely(loop: PullRequestLoop, pr_id: UUID) -> None:
    """Advance, logging GitHub's refusals (the next ask or poll tries again)."""
    try:
        await loop.advance(pr_id)
    except GitHubError as exc:
        log.warning("loop step failed", pull_request_id=str(pr_id), error=exc.message)

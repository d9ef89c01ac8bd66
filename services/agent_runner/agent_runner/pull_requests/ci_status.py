"""CI status of open pull requests, polled on a Dapr cron binding.

Safe with several replicas: each round locks the PR rows it polls with `FOR UPDATE SKIP
LOCKED`. Check runs and commit statuses are fetched with `If-None-Match`, so an
unchanged commit costs no rate limit. A change updates the PR record and is noted on
the run, so the task stream shows it. PR requests whose message was lost (worker died
after acknowledging) are requested again. For the pull-request loop the poll is the
safety net of webhooks: a failure it sees is recorded like a failed check suite's (once
per head), and loops with work waiting on a free run are asked to advance again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from agent_runner.pull_requests.github import GitHubClient, GitHubError
from agent_runner.pull_requests.publisher import TokenSource, github_repo
from dursor_contracts.events import EventType, ProgressData
from dursor_contracts.pull_requests import CiStatus, PullRequestState
from dursor_kit.db.unit_of_work import Transactions, UnitOfWork
from dursor_store import pr_loop
from dursor_store.eventlog import NewEvent, append_events
from dursor_store.pull_requests import (
    PolledPullRequest,
    open_for_polling,
    overall_ci_status,
    record_poll,
    request_stale_again,
)

log = structlog.get_logger(__name__)


class CiPoller:
    """One polling round over open pull requests (and stale PR requests)."""

    def __init__(
        self,
        transactions: Transactions,
        tokens: TokenSource,
        clients: Callable[[str], GitHubClient],
        github_hosts: list[str],
        batch: int = 50,
    ) -> None:
        self._transactions = transactions
        self._tokens = tokens
        self._clients = clients
        self._hosts = github_hosts
        self._batch = batch

    async def poll_once(self) -> int:
        """Poll a batch of open PRs; returns how many changed."""
        changed = 0
        async with self._transactions.begin() as work:
            await request_stale_again(work)
            await pr_loop.announce_waiting(work, self._batch)
            for pr in await open_for_polling(work.conn, self._batch):
                try:
                    changed += await self._poll(work, pr)
                except GitHubError as exc:
                    log.warning("ci poll failed", pr=pr.number, error=exc.message)
        return changed

    async def _poll(self, work: UnitOfWork, pr: PolledPullRequest) -> int:
        repo = github_repo(pr.repo_url, self._hosts)
        if repo is None or pr.number is None:
            return 0
        client = self._clients(await self._tokens(pr.repo_url))
        pull = await client.pull_request(repo.full_name, pr.number)
        # ETags are only valid for the head they were taken on.
        etags = json.loads(pr.ci_etag or "{}") if pull.head_sha == pr.head_sha else {}
        checks = await client.conditional_get(
            client.checks_path(repo.full_name, pull.head_sha), etags.get("checks")
        )
        status = await client.conditional_get(
            client.status_path(repo.full_name, pull.head_sha), etags.get("status")
        )
        unchanged = checks.body is None and status.body is None and pull.head_sha == pr.head_sha
        ci = (
            pr.ci_status
            if unchanged
            else overall_status(
                (checks.body or {}).get("check_runs", []), (status.body or {}).get("statuses", [])
            )
        )
        state = _state(pull.merged, pull.state)
        if ci is CiStatus.FAILURE and state is PullRequestState.OPEN:
            await self._loop_failure(work, pr, pull.head_sha)
        await record_poll(
            work,
            pr.id,
            ci,
            state,
            pull.head_sha,
            {"checks": checks.etag, "status": status.etag},
        )
        return await self._note_change(work, pr, ci, state)

    async def _loop_failure(self, work: UnitOfWork, pr: PolledPullRequest, head: str) -> None:
        """A failure no webhook told (lost, or before the head was recorded) feeds the loop."""
        found = await pr_loop.of_id(work.conn, pr.id)
        if found is None:
            return
        recorded = await pr_loop.record_ci_failure(work, found, head, "poll", None)
        if recorded is not None:
            note = ProgressData(message=recorded, step="loop")
            await append_events(work, pr.run_id, [NewEvent(EventType.PROGRESS, note)])

    async def _note_change(
        self, work: UnitOfWork, pr: PolledPullRequest, ci: CiStatus, state: PullRequestState
    ) -> int:
        if (ci, state) == (pr.ci_status, pr.state):
            return 0
        message = f"pull request #{pr.number}: {state}, CI {ci}"
        await append_events(
            work,
            pr.run_id,
            [NewEvent(EventType.PROGRESS, ProgressData(message=message, step="ci"))],
        )
        log.info("ci status changed", pr=pr.number, ci=ci, state=state)
        return 1


def overall_status(
    check_runs: Iterable[dict[str, Any]], statuses: Iterable[dict[str, Any]]
) -> CiStatus:
    """One CI status from a commit's check runs and its commit statuses."""
    outcomes = [c.get("conclusion") or c.get("status") for c in check_runs]
    outcomes += [s.get("state") for s in statuses]
    return overall_ci_status(outcomes)


def _state(merged: bool, github_state: str) -> PullRequestState:
    if merged:
        return PullRequestState.MERGED
    return PullRequestState.CLOSED if github_state == "closed" else PullRequestState.OPEN

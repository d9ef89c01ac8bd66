"""CI status of open pull requests, polled on a Dapr cron binding.

Safe with several replicas: each round locks the PR rows it polls with `FOR UPDATE SKIP
LOCKED`. Check runs and commit statuses are fetched with `If-None-Match`, so an
unchanged commit costs no rate limit. A change updates the PR record and is noted on
the run, so the task stream shows it. PR requests whose message was lost (worker died
after acknowledging) are requested again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agent_runner.github import GitHubClient, GitHubError
from agent_runner.pull_requests import TokenSource, github_repo
from dursor_contracts.events import EventType, ProgressData, PrRequestedV1
from dursor_contracts.topics import PR_REQUESTED
from dursor_kit.db.engine import all_rows
from dursor_store.eventlog import NewEvent, append_events
from dursor_store.outbox import enqueue
from dursor_store.schema import pull_requests, repos, tasks

log = structlog.get_logger(__name__)

FAILING = {"failure", "timed_out", "cancelled", "action_required", "error", "startup_failure"}
PASSING = {"success", "neutral", "skipped"}
STALE_REQUEST = timedelta(minutes=2)


def overall_status(check_runs: Iterable[dict[str, Any]], statuses: Iterable[dict[str, Any]]) -> str:
    """success | failure | pending | unknown, from check runs and commit statuses."""
    outcomes = [c.get("conclusion") or c.get("status") for c in check_runs]
    outcomes += [s.get("state") for s in statuses]
    if not outcomes:
        return "unknown"
    if any(o in FAILING for o in outcomes):
        return "failure"
    if all(o in PASSING for o in outcomes):
        return "success"
    return "pending"


class CiPoller:
    """One polling round over open pull requests (and stale PR requests)."""

    def __init__(
        self,
        engine: AsyncEngine,
        tokens: TokenSource,
        clients: Callable[[str], GitHubClient],
        github_hosts: list[str],
        notify_relay: Callable[[], None],
        batch: int = 50,
    ) -> None:
        self._engine = engine
        self._tokens = tokens
        self._clients = clients
        self._hosts = github_hosts
        self._notify = notify_relay
        self._batch = batch

    async def poll_once(self) -> int:
        """Poll a batch of open PRs; returns how many changed."""
        changed = 0
        async with self._engine.begin() as conn:
            await self._request_stale(conn)
            for pr in await all_rows(conn, self._open_prs()):
                try:
                    changed += await self._poll(conn, dict(pr._mapping))
                except GitHubError as exc:
                    log.warning("ci poll failed", pr=pr.number, error=exc.message)
        self._notify()
        return changed

    def _open_prs(self) -> Any:
        return (
            select(pull_requests, repos.c.url.label("repo_url"))
            .join(tasks, tasks.c.id == pull_requests.c.task_id)
            .join(repos, repos.c.id == tasks.c.repo_id)
            .where(pull_requests.c.state == "open", pull_requests.c.number.is_not(None))
            .order_by(pull_requests.c.updated_at)
            .limit(self._batch)
            .with_for_update(of=pull_requests, skip_locked=True)
        )

    async def _poll(self, conn: AsyncConnection, pr: dict[str, Any]) -> int:
        repo = github_repo(pr["repo_url"], self._hosts)
        if repo is None:
            return 0
        client = self._clients(await self._tokens(pr["repo_url"]))
        pull = await client.pull_request(repo.full_name, pr["number"])
        # ETags are only valid for the head they were taken on.
        etags = json.loads(pr["ci_etag"] or "{}") if pull.head_sha == pr["head_sha"] else {}
        checks = await client.conditional_get(
            client.checks_path(repo.full_name, pull.head_sha), etags.get("checks")
        )
        status = await client.conditional_get(
            client.status_path(repo.full_name, pull.head_sha), etags.get("status")
        )
        unchanged = checks.body is None and status.body is None and pull.head_sha == pr["head_sha"]
        ci = (
            pr["ci_status"]
            if unchanged
            else overall_status(
                (checks.body or {}).get("check_runs", []), (status.body or {}).get("statuses", [])
            )
        )
        state = "merged" if pull.merged else ("closed" if pull.state == "closed" else "open")
        new_etags = json.dumps({"checks": checks.etag, "status": status.etag})
        return await self._save(conn, pr, ci, state, pull.head_sha, new_etags)

    async def _save(
        self,
        conn: AsyncConnection,
        pr: dict[str, Any],
        ci: str,
        state: str,
        head_sha: str,
        etags: str,
    ) -> int:
        await conn.execute(
            update(pull_requests)
            .where(pull_requests.c.id == pr["id"])
            .values(
                ci_status=ci, state=state, head_sha=head_sha, ci_etag=etags, updated_at=func.now()
            )
        )
        if (ci, state) == (pr["ci_status"], pr["state"]):
            return 0
        message = f"pull request #{pr['number']}: {state}, CI {ci}"
        await append_events(
            conn,
            pr["run_id"],
            [NewEvent(EventType.PROGRESS, ProgressData(message=message, step="ci"))],
        )
        log.info("ci status changed", pr=pr["number"], ci=ci, state=state)
        return 1

    async def _request_stale(self, conn: AsyncConnection) -> None:
        stale = await all_rows(
            conn,
            select(pull_requests.c.id, pull_requests.c.run_id, pull_requests.c.requested_by)
            .where(
                pull_requests.c.state == "requested",
                pull_requests.c.updated_at < func.now() - STALE_REQUEST,
            )
            .with_for_update(skip_locked=True),
        )
        for pr in stale:
            await conn.execute(
                update(pull_requests)
                .where(pull_requests.c.id == pr.id)
                .values(updated_at=func.now())
            )
            await enqueue(
                conn,
                PR_REQUESTED,
                PrRequestedV1(
                    run_id=pr.run_id, pull_request_id=pr.id, requested_by=pr.requested_by
                ),
            )

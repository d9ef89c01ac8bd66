"""One attempt of one run's turn: workspace, agent, commit, artifacts, terminal event."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import structlog

from agent_runner.agents.confinement import AgentsRefused, Confinement
from agent_runner.agents.executors.base import Agent, AgentInvocation, AgentOutcome, Credential
from agent_runner.agents.homes import restore_home, save_home
from agent_runner.agents.process import LimitExceeded, ProcessLimits
from agent_runner.git.workspaces import BaseCommitMissing, TurnResult, Workspaces
from agent_runner.metrics import record_run_duration
from agent_runner.runs.budgets import BudgetCaps, turn_budget
from agent_runner.runs.disk_full import disk_full_reason
from agent_runner.runs.environment_file import (
    ENVIRONMENT_FILE,
    EnvironmentFile,
    EnvironmentInvalid,
    turn_environment,
)
from agent_runner.runs.event_batcher import EventBatcher
from agent_runner.runs.leases import RunLeases
from agent_runner.runs.secrets import RunSecrets, SecretInChanges
from agent_runner.runs.setup import SetupFailed, run_setup
from agent_runner.runs.setup_cache import CachedSetup, SetupCache
from agent_runner.runs.verify import run_verify
from dursor_contracts.events import (
    ArtifactData,
    CompletedData,
    EndedData,
    EventType,
    RunStatus,
)
from dursor_contracts.usage import (
    SESSION_TOTALS,
    BudgetExceeded,
    ModelPrice,
    this_turn,
    turn_usage,
)
from dursor_contracts.verification import Verification
from dursor_kit.artifacts import ArtifactStore
from dursor_store.eventlog import FencedOut, NewEvent
from dursor_store.pull_requests import request_update_of_open
from dursor_store.run_lifecycle import ClaimedRun
from dursor_store.run_rows import TurnValues

log = structlog.get_logger(__name__)


class AttemptStopped(Exception):
    """The attempt was stopped from outside: cancel, shutdown or a lost lease."""

    def __init__(self, status: RunStatus | None, reason: str, fenced: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        # The lease is gone (or may be): the attempt writes nothing, the reaper decides.
        self.fenced = fenced

    @classmethod
    def fenced_out(cls, reason: str) -> AttemptStopped:
        """Stopped because this attempt no longer holds (or cannot prove it holds) the lease."""
        return cls(None, reason, fenced=True)


@dataclass(frozen=True)
class AttemptContext:
    """What every attempt of a worker shares."""

    leases: RunLeases
    workspaces: Workspaces
    artifacts: ArtifactStore
    agents: Mapping[str, Agent]
    limits: ProcessLimits
    log_batch_bytes: int
    log_batch_seconds: float
    confinement: Confinement = field(default_factory=Confinement)
    # The operator's price table for executors that report tokens only.
    prices: Mapping[str, ModelPrice] = field(default_factory=dict)
    budgets: BudgetCaps = field(default_factory=BudgetCaps)
    # Where setup results are kept for reuse (None: every setup runs).
    setup_cache: SetupCache | None = None
    # Opens the repository's secrets of a run (None: no secrets on this worker).
    secrets: Callable[[ClaimedRun], Awaitable[RunSecrets]] | None = None


class RunAttempt:
    """Executes a claimed run and records exactly one terminal outcome for it."""

    def __init__(self, ctx: AttemptContext, run: ClaimedRun, credential: Credential | None) -> None:
        self._ctx = ctx
        self.run = run
        self._credential = credential
        self._started = time.monotonic()
        self.stop_reason: AttemptStopped | None = None
        self._secrets = RunSecrets()
        self.events = EventBatcher(
            ctx.leases.transactions,
            run.id,
            run.fence(ctx.leases.worker_id),
            ctx.log_batch_bytes,
            ctx.log_batch_seconds,
            head=run.last_seq,
        )

    async def execute(self) -> None:
        """Run to a terminal state; never raises except for the caller's own cancellation."""
        bound = structlog.contextvars.bound_contextvars(
            run_id=str(self.run.id), turn=self.run.turn, attempt=self.run.attempt
        )
        with bound:
            try:
                await self._execute()
            except FencedOut:
                log.warning("lease lost; another attempt owns the run now")
            finally:
                await self.events.close()

    async def _execute(self) -> None:
        try:
            outcome, result, verification = await self._work()
        except asyncio.CancelledError:
            await self._stopped()
            return
        except AgentsRefused as exc:
            await self._end(RunStatus.FAILED, EndedData(reason=str(exc)), {"error": str(exc)})
            return
        except (SetupFailed, BaseCommitMissing, SecretInChanges, EnvironmentInvalid) as exc:
            await self._end(RunStatus.FAILED, EndedData(reason=str(exc)), {"error": str(exc)})
            return
        except BudgetExceeded as exc:
            values: TurnValues = {"error": str(exc)}
            if exc.reported:  # what the agent's stream showed until it was stopped
                values["usage"] = self._usage(AgentOutcome(exit_code=None, usage=exc.reported))
            await self._end(RunStatus.FAILED, EndedData(reason=str(exc)), values)
            return
        except LimitExceeded as exc:
            status = RunStatus.FAILED if exc.kind == "output_cap" else RunStatus.TIMED_OUT
            await self._end(status, EndedData(reason=exc.detail), {"error": exc.detail})
            return
        except Exception as exc:
            await self._failed(exc)
            return
        try:
            await self._finish(outcome, result, verification)
        except FencedOut:
            raise
        except Exception as exc:  # storing the patch or bundle failed (a full disk)
            await self._failed(exc)

    async def _failed(self, exc: Exception) -> None:
        log.exception("attempt failed")
        reason = (
            disk_full_reason(exc, self._ctx.workspaces.root)
            or (f"{type(exc).__name__}: {exc}"[:2000])
        )
        await self._end(RunStatus.FAILED, EndedData(reason=reason), {"error": reason})

    async def _work(self) -> tuple[AgentOutcome, TurnResult, Verification | None]:
        agent = self._ctx.agents.get(self.run.executor.type)
        if agent is None:
            raise RuntimeError(
                f"executor {self.run.executor.type!r} is not installed on this worker"
            )
        budget = await turn_budget(
            self._ctx.leases.transactions,
            self.run,
            self._ctx.budgets,
            self._model(),
            self._ctx.prices,
        )
        if budget is not None:
            budget.check_start()
        await self.events.progress("preparing workspace")
        bundle = await self._bundle()
        base = await self._base_commit()
        worktree = await self._ctx.workspaces.prepare(
            self.run.repo_url, str(self.run.id), self.run.branch, self.run.base_branch, bundle, base
        )
        environment = await self._environment(base)
        secrets = await self._open_secrets()
        # Restored before the jail takes the worktree over (the files become the agent's).
        cached, cache_key = await self._cached_setup(environment, base, secrets, worktree)
        invocation = self._invocation(worktree)
        if budget is not None:
            invocation = replace(invocation, on_usage=budget.check_live)
        # The llm executor calls its model itself: it needs a jail only for setup commands.
        if agent.kind != "llm" or environment.setup:
            jail = await self._ctx.confinement.for_run(
                self.run.id, worktree, invocation.home, self._system_log
            )
            invocation = replace(invocation, jail=jail)
        if self.run.turn > 1 and await restore_home(
            self._ctx.artifacts, self.run.patch_uri, invocation.home
        ):
            await self.events.progress("restored the agent's session from an earlier worker")
        setup = replace(invocation, environment=secrets.at("setup"))
        if cached is None:
            exported = await run_setup(environment.setup, setup, self.events)
            await self._keep_setup(cache_key, environment, exported)
        else:
            exported = cached.exports
        invocation = replace(invocation, environment=exported | secrets.at("agent"))
        agent_invocation = replace(invocation, jail=None) if agent.kind == "llm" else invocation
        outcome = await agent.run(agent_invocation, self.events)
        await self.events.progress("recording changes")
        message = f"dursor: {self.run.title} (turn {self.run.turn})\n\n{self.run.instruction}"
        result = await self._ctx.workspaces.finish_turn(
            worktree, self.run.base_branch, message[:4000]
        )
        secrets.check_changes(result.patch)
        # After the commit: reports the commands write are not part of the run's changes.
        verify = replace(invocation, environment=exported | secrets.at("verify"))
        verification = await run_verify(environment.verify, verify, self.events)
        if verification is not None:
            tail = [secrets.mask(line) for line in verification.output_tail]
            verification = verification.model_copy(update={"output_tail": tail})
        return outcome, result, verification

    async def _environment(self, base: str) -> EnvironmentFile:
        """The API's environment when set, else the repository's file at the base commit."""
        api = EnvironmentFile(setup=self.run.setup_commands, verify=self.run.verify_commands)
        repo = self._ctx.workspaces.repo(str(self.run.id))
        found, source = await turn_environment(self.run.environment_set, api, repo, base)
        if source == ENVIRONMENT_FILE:
            await self.events.progress(f"environment from {ENVIRONMENT_FILE}")
        return found

    async def _cached_setup(
        self, environment: EnvironmentFile, base: str, secrets: RunSecrets, worktree: Path
    ) -> tuple[CachedSetup | None, str | None]:
        """The stored result of this setup, restored into the worktree; and its key."""
        cache = self._ctx.setup_cache
        if cache is None or not environment.setup:
            return None, None
        repo = self._ctx.workspaces.repo(str(self.run.id))
        key = await cache.key(repo, base, environment, secrets.at("setup"))
        cached = cache.lookup(self.run.repo_url, key)
        if cached is not None:
            restored = await cache.restore(cached, worktree)
            await self.events.progress(
                f"setup restored from the cache ({restored} files); "
                f"its {len(environment.setup)} commands skipped"
            )
        return cached, key

    async def _keep_setup(
        self, key: str | None, environment: EnvironmentFile, exported: dict[str, str]
    ) -> None:
        cache = self._ctx.setup_cache
        if cache is None or key is None:
            return
        repo = self._ctx.workspaces.repo(str(self.run.id))
        kept = await cache.save(self.run.repo_url, key, repo, environment, exported)
        note = f"{kept} files" if kept is not None else "too large, not kept"
        # The key is never shown: it hashes the setup secrets among other things.
        await self.events.progress(f"setup cached ({note})")

    async def _open_secrets(self) -> RunSecrets:
        """The repository's secrets for this run; from now on their values are masked."""
        if self._ctx.secrets is not None:
            self._secrets = await self._ctx.secrets(self.run)
            self.events.mask = self._secrets.mask
        return self._secrets

    async def _base_commit(self) -> str:
        """The submission's base commit: pinned by the first of its runs claimed."""
        if self.run.base_commit is not None:
            return self.run.base_commit
        head = await self._ctx.workspaces.base_head(self.run.repo_url, self.run.base_branch)
        pinned = await self._ctx.leases.pin_base(self.run, head)
        await self.events.progress(f"base commit {pinned[:12]} of {self.run.base_branch}")
        return pinned

    async def _system_log(self, line: str) -> None:
        await self.events.log("system", line)

    async def _bundle(self) -> bytes | None:
        if self.run.turn == 1 or not self.run.bundle_uri:
            return None
        return await self._ctx.artifacts.get(self.run.bundle_uri)

    def _invocation(self, worktree: Any) -> AgentInvocation:
        return AgentInvocation(
            run_id=self.run.id,
            turn=self.run.turn,
            instruction=self.run.instruction,
            workspace=worktree,
            home=self._ctx.workspaces.home_path(str(self.run.id)),
            model=self._model(),
            options=self.run.executor.options,
            session_id=self.run.session_id,
            credential=self._credential,
            limits=self._ctx.limits,
        )

    async def _finish(
        self, outcome: AgentOutcome, result: TurnResult, verification: Verification | None
    ) -> None:
        values: TurnValues = {
            "files_changed": [f.model_dump() for f in result.files_changed],
            "commit_sha": result.commit_sha,
            "usage": self._usage(outcome),
            "session_id": outcome.session_id or self.run.session_id,
        }
        if verification is not None:
            values["verification"] = verification.model_dump(mode="json")
        artifacts = await self._store_artifacts(result, values)
        home = self._ctx.workspaces.home_path(str(self.run.id))
        await save_home(self._ctx.artifacts, self._artifact_prefix, home)
        if not outcome.succeeded:
            reason = (
                disk_full_reason(None, self._ctx.workspaces.root)
                or outcome.error
                or f"agent exited with status {outcome.exit_code}"
            )
            reason = self._secrets.mask(reason)
            await self._end(
                RunStatus.FAILED, EndedData(reason=reason), values | {"error": reason}, artifacts
            )
            return
        summary = self._secrets.mask(outcome.summary or "the agent finished")
        completed = CompletedData(
            summary=summary,
            files_changed=result.files_changed,
            commit_sha=result.commit_sha,
            branch=self.run.branch,
        )
        await self._end(RunStatus.SUCCEEDED, completed, values | {"summary": summary}, artifacts)

    def _model(self) -> str | None:
        """The run's model, else its model profile's."""
        return self.run.executor.model or (self._credential.model if self._credential else None)

    def _usage(self, outcome: AgentOutcome) -> dict[str, Any]:
        """The turn's usage, normalized and priced, with what the executor reported."""
        model = self._model()
        reported = outcome.usage
        resumed = outcome.session_id is not None and outcome.session_id == self.run.session_id
        if self.run.executor.type in SESSION_TOTALS and resumed:
            keys = SESSION_TOTALS[self.run.executor.type]
            reported = this_turn(reported, self.run.earlier_usage, keys)
        figures = turn_usage(reported, model, self._ctx.prices)
        return figures.model_dump(mode="json") | {"reported": outcome.usage}

    @property
    def _artifact_prefix(self) -> str:
        """This attempt's own folder: a fenced-out attempt never overwrites the winner's files."""
        return f"artifacts/{self.run.id}/turn-{self.run.turn}/attempt-{self.run.attempt}"

    async def _store_artifacts(self, result: TurnResult, values: TurnValues) -> list[NewEvent]:
        # Published only through `values`, which `_end` writes under the lease's fence.
        prefix = self._artifact_prefix
        store = self._ctx.artifacts
        values["patch_uri"] = await store.put(f"{prefix}/patch.diff", result.patch, "text/x-diff")
        worktree = self._ctx.workspaces.worktree_path(str(self.run.id))
        bundle = await self._ctx.workspaces.bundle(
            worktree, str(self.run.id), self.run.branch, self.run.base_branch
        )
        if bundle:
            values["bundle_uri"] = await store.put(
                f"{prefix}/branch.bundle", bundle, "application/x-git-bundle"
            )
        patch = ArtifactData(
            kind="patch",
            uri=values["patch_uri"],
            size_bytes=len(result.patch),
            sha256=hashlib.sha256(result.patch).hexdigest(),
        )
        return [NewEvent(EventType.ARTIFACT, patch)]

    async def _stopped(self) -> None:
        stop = self.stop_reason or AttemptStopped(None, "worker shutting down")
        if stop.fenced:
            log.warning(
                "attempt stopped without its lease; its artifacts stay unpublished",
                reason=stop.reason,
            )
            return
        if stop.status is None:
            await self._ctx.leases.release(self.run, stop.reason)
            return
        await self._end(stop.status, EndedData(reason=stop.reason), {"error": stop.reason})

    async def _end(
        self,
        status: RunStatus,
        data: Any,
        values: TurnValues,
        before: list[NewEvent] | None = None,
    ) -> None:
        terminal = {
            RunStatus.SUCCEEDED: EventType.COMPLETED,
            RunStatus.FAILED: EventType.FAILED,
            RunStatus.CANCELLED: EventType.CANCELLED,
            RunStatus.TIMED_OUT: EventType.TIMED_OUT,
        }[status]
        async with self._ctx.leases.transactions.begin() as work:
            await self.events.write_in(work, [*(before or []), NewEvent(terminal, data)])
            if not await self._ctx.leases.end(work, self.run, status, values):
                raise FencedOut(f"run {self.run.id} ended elsewhere")
            if status is RunStatus.SUCCEEDED:
                await request_update_of_open(work, self.run.id)
        record_run_duration(time.monotonic() - self._started, self.run.executor.type, status.value)
        log.info("attempt ended", status=status.value)

"""`GET /v1/tasks/{id}/comparison`: a submission's runs ranked (rule in `ranking`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast
from uuid import UUID

from fastapi import APIRouter, Query

from dursor_contracts.events import RunStatus
from dursor_contracts.verification import Verification
from dursor_kit.errors import Invalid, NotFound
from dursor_kit.web.security import Viewer
from dursor_store import run_reads
from run_api.comparison import repository as sql
from run_api.comparison.ranking import CRITERIA, Criterion, RunFigures, rank
from run_api.comparison.schemas import (
    ComparedFigures,
    ComparisonOut,
    RankedRun,
    TurnVerificationOut,
)
from run_api.declared import LIST_OF, READ
from run_api.deps import Engine, Settings
from run_api.tasks import repository as task_sql

router = APIRouter(prefix="/v1", tags=["comparison"])


@router.get("/tasks/{task_id}/comparison", response_model=ComparisonOut, responses=LIST_OF)
async def compare_runs(
    task_id: UUID,
    _: Viewer,
    engine: Engine,
    settings: Settings,
    rule: Annotated[
        str | None,
        Query(
            max_length=200,
            description=f"Criteria in order, comma-separated, of: {', '.join(CRITERIA)}",
        ),
    ] = None,
    submitted_at: Annotated[
        datetime | None, Query(description="Which submission (its runs' `created_at`)")
    ] = None,
) -> ComparisonOut:
    """A submission's runs (the latest unless asked), best first, with every figure."""
    criteria = _rule(rule) if rule is not None else list(settings.comparison_rule)
    async with engine.connect() as conn:
        if await task_sql.get_task(conn, task_id) is None:
            raise NotFound("task", task_id)
        when = await sql.submission_time(conn, task_id, submitted_at)
        if when is None:
            raise NotFound("submission", task_id, detail=f"task {task_id} has no such runs")
        rows = await sql.submission_runs(conn, task_id, when)
    figures = [_figures(row) for row in rows]
    ranked = [
        RankedRun(
            rank=place,
            run_id=rows[i].id,
            executor_type=rows[i].executor_type,
            model=rows[i].model,
            status=rows[i].status,
            turns=rows[i].turn,
            figures=_shown(figures[i], rows[i]),
        )
        for place, i in enumerate(rank(figures, criteria), start=1)
    ]
    return ComparisonOut(task_id=task_id, submitted_at=when, rule=criteria, runs=ranked)


def _rule(text: str) -> list[Criterion]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CRITERIA]
    if unknown or not names or len(set(names)) != len(names):
        raise Invalid(
            f"rule must name distinct criteria of: {', '.join(CRITERIA)}",
            code="unknown-criterion",
            field="rule",
        )
    return [cast(Criterion, name) for name in names]


def _figures(row: sql.ComparedRun) -> RunFigures:
    verified = None if row.verification is None else Verification.model_validate(row.verification)
    return RunFigures(
        succeeded=row.status == RunStatus.SUCCEEDED,
        verify_passed=None if verified is None else verified.passed,
        failing_tests=None if verified is None else verified.failures,
        diff_lines=sum(
            int(f.get("additions", 0)) + int(f.get("deletions", 0)) for f in row.files_changed
        ),
        cost_usd=None if row.unpriced_turns or row.cost_usd is None else float(row.cost_usd),
        duration_seconds=row.duration_seconds,
    )


def _shown(figures: RunFigures, row: sql.ComparedRun) -> ComparedFigures:
    return ComparedFigures(
        succeeded=figures.succeeded,
        verify_passed=figures.verify_passed,
        failing_tests=figures.failing_tests,
        diff_lines=figures.diff_lines,
        files_changed=len(row.files_changed),
        cost_usd=figures.cost_usd,
        duration_seconds=figures.duration_seconds,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
    )


@router.get(
    "/runs/{run_id}/verifications", response_model=list[TurnVerificationOut], responses=READ
)
async def list_verifications(run_id: UUID, _: Viewer, engine: Engine) -> list[TurnVerificationOut]:
    """What verifying each turn found (turns of a repository without verify commands: none)."""
    async with engine.connect() as conn:
        if await run_reads.get_run(conn, run_id) is None:
            raise NotFound("run", run_id)
        rows = await sql.run_verifications(conn, run_id)
    return [
        TurnVerificationOut.model_validate({"turn": r.turn, "attempt": r.attempt} | r.verification)
        for r in rows
    ]

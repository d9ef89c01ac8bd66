"""Repositories: register, list, read."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError

from dursor_kit.errors import Conflict, NotFound
from dursor_kit.web.pagination import next_cursor
from dursor_kit.web.security import Developer, Viewer
from dursor_kit.web.transactions import Tx
from run_api.declared import LIST, READ, IdempotencyKey, write
from run_api.deps import DEFAULT_PAGE, Cursor, Engine, Limit, Settings
from run_api.repos import repository as sql
from run_api.repos.schemas import EnvironmentOut, EnvironmentPut, RepoCreate, RepoOut
from run_api.repos.service import normalise_repo_url
from run_api.schemas import Page

router = APIRouter(prefix="/v1", tags=["repositories and tasks"])


@router.post("/repos", status_code=201, response_model=RepoOut, responses=write())
async def create_repo(
    body: RepoCreate,
    principal: Developer,
    tx: Tx,
    settings: Settings,
    _key: IdempotencyKey = None,
) -> RepoOut:
    """Register a repository (HTTPS on an allowed host; file:// in local mode)."""
    url = normalise_repo_url(body.url, settings)
    try:
        loop = sql.LoopSettings(
            auto_fix_ci=body.auto_fix_ci,
            auto_fix_ci_max_rounds=body.auto_fix_ci_max_rounds,
            resolve_review_threads=body.resolve_review_threads,
        )
        row = await sql.insert_repo(tx.conn, url, body.default_branch, principal.owner_key, loop)
    except IntegrityError as exc:  # the unit of work rolls the failed insert back
        raise Conflict(f"{url} is already registered") from exc
    return RepoOut.model_validate(row, from_attributes=True)


@router.get("/repos", response_model=Page[RepoOut], responses=LIST)
async def list_repos(
    _: Viewer, engine: Engine, limit: Limit = DEFAULT_PAGE, cursor: Cursor = None
) -> Page[RepoOut]:
    """Registered repositories, newest first."""
    async with engine.connect() as conn:
        rows = await sql.list_repos(conn, cursor, limit)
    return Page(
        items=[RepoOut.model_validate(r, from_attributes=True) for r in rows[:limit]],
        next_cursor=next_cursor(rows, limit),
    )


@router.get("/repos/{repo_id}", response_model=RepoOut, responses=READ)
async def get_repo(repo_id: UUID, _: Viewer, engine: Engine) -> RepoOut:
    """One repository."""
    async with engine.connect() as conn:
        row = await sql.get_repo(conn, repo_id)
    if row is None:
        raise NotFound("repository", repo_id)
    return RepoOut.model_validate(row, from_attributes=True)


@router.get("/repos/{repo_id}/environment", response_model=EnvironmentOut, responses=READ)
async def get_environment(repo_id: UUID, _: Viewer, engine: Engine) -> EnvironmentOut:
    """The repository's setup and verify commands."""
    async with engine.connect() as conn:
        if await sql.get_repo(conn, repo_id) is None:
            raise NotFound("repository", repo_id)
        row = await sql.get_environment(conn, repo_id)
    if row is None:
        return EnvironmentOut(
            repo_id=repo_id, setup=[], verify=[], updated_by=None, updated_at=None
        )
    return EnvironmentOut.model_validate(row, from_attributes=True)


@router.put("/repos/{repo_id}/environment", response_model=EnvironmentOut, responses=write(404))
async def put_environment(
    repo_id: UUID, body: EnvironmentPut, principal: Developer, tx: Tx
) -> EnvironmentOut:
    """Set the repository's environment: `setup` runs in each run's jail before the agent
    (a command that fails fails the run with `setup_failed`)."""
    if await sql.get_repo(tx.conn, repo_id) is None:
        raise NotFound("repository", repo_id)
    row = await sql.put_environment(
        tx.conn, repo_id, list(body.setup), list(body.verify), principal.owner_key
    )
    return EnvironmentOut.model_validate(row, from_attributes=True)

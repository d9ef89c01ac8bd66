"""Model profiles: Admin writes provider credentials, everyone reads them without the key."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response

from dursor_kit.errors import NotFound
from dursor_kit.web.pagination import next_cursor
from dursor_kit.web.problems import problem_responses
from dursor_kit.web.security import Admin, Viewer
from dursor_kit.web.transactions import Tx
from run_api.declared import LIST, READ, IdempotencyKey, write
from run_api.deps import DEFAULT_PAGE, Cursor, Engine, Limit
from run_api.model_profiles import repository as sql
from run_api.model_profiles.schemas import ModelProfileCreate, ModelProfileOut
from run_api.model_profiles.service import ModelProfiles, profile_out
from run_api.schemas import Page

router = APIRouter(prefix="/v1/model-profiles", tags=["model profiles"])


def _profiles(request: Request) -> ModelProfiles:
    profiles: ModelProfiles = request.app.state.model_profiles
    return profiles


Profiles = Annotated[ModelProfiles, Depends(_profiles)]


@router.post("", status_code=201, response_model=ModelProfileOut, responses=write())
async def create_profile(
    body: ModelProfileCreate,
    principal: Admin,
    profiles: Profiles,
    tx: Tx,
    _key: IdempotencyKey = None,
) -> ModelProfileOut:
    """Store a provider credential; the API key is encrypted and never shown again."""
    return profile_out(await profiles.create(tx, principal, body))


@router.get("", response_model=Page[ModelProfileOut], responses=LIST)
async def list_profiles(
    _: Viewer, engine: Engine, limit: Limit = DEFAULT_PAGE, cursor: Cursor = None
) -> Page[ModelProfileOut]:
    """Live model profiles, newest first."""
    async with engine.connect() as conn:
        rows = await sql.list_profiles(conn, cursor, limit)
    return Page(items=[profile_out(r) for r in rows[:limit]], next_cursor=next_cursor(rows, limit))


@router.get("/{profile_id}", response_model=ModelProfileOut, responses=READ)
async def get_profile(profile_id: UUID, _: Viewer, engine: Engine) -> ModelProfileOut:
    """One live model profile."""
    async with engine.connect() as conn:
        row = await sql.get_profile(conn, profile_id)
    if row is None:
        raise NotFound("model profile", profile_id)
    return profile_out(row)


@router.delete(
    "/{profile_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_profile(
    profile_id: UUID, principal: Admin, profiles: Profiles, tx: Tx
) -> Response:
    """Soft-delete a profile: its key can no longer be used by any run."""
    await profiles.delete(tx, principal, profile_id)
    return Response(status_code=204)

"""Repository secrets: Developers write and delete them, everyone lists names and places."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Path, Response

from dursor_contracts.environment import NAME_PATTERN, name_refusal, secret_context
from dursor_kit.errors import NotFound, Unprocessable
from dursor_kit.web.security import Developer, Viewer
from dursor_kit.web.transactions import Tx
from run_api.declared import READ, write
from run_api.deps import Engine, KeyRing, Settings
from run_api.repos import repository as repos_sql
from run_api.secrets import repository as sql
from run_api.secrets.repository import SecretRow
from run_api.secrets.schemas import SecretList, SecretOut, SecretPut

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1/repos", tags=["repositories and tasks"])
MAX_SECRETS_PER_REPO = 100

SecretName = Annotated[
    str, Path(pattern=f"^{NAME_PATTERN.pattern}$", description="a variable name")
]


def secret_out(row: SecretRow) -> SecretOut:
    """The public view of a secret: its name and places, never its value."""
    return SecretOut(
        name=row.name,
        inject_into=row.inject_into,
        encryption_key_id=row.key_id,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


@router.get("/{repo_id}/secrets", response_model=SecretList, responses=READ)
async def list_secrets(repo_id: UUID, _: Viewer, engine: Engine, settings: Settings) -> SecretList:
    """The repository's secrets: names and where each is injected, never values."""
    async with engine.connect() as conn:
        if await repos_sql.get_repo(conn, repo_id) is None:
            raise NotFound("repository", repo_id)
        rows = await sql.list_secrets(conn, repo_id)
    return SecretList(
        items=[secret_out(r) for r in rows], allowed_places=settings.secret_injection_places
    )


@router.put("/{repo_id}/secrets/{name}", response_model=SecretOut, responses=write(404))
async def put_secret(
    repo_id: UUID,
    name: SecretName,
    body: SecretPut,
    principal: Developer,
    tx: Tx,
    settings: Settings,
    keyring: KeyRing,
) -> SecretOut:
    """Create or replace a secret: sealed at rest, injected as the variable `name` into
    the commands `inject_into` names (within the operator's `allowed_places`)."""
    _check(name, body, settings.secret_injection_places)
    if await repos_sql.get_repo(tx.conn, repo_id) is None:
        raise NotFound("repository", repo_id)
    if len(await sql.list_secrets(tx.conn, repo_id)) >= MAX_SECRETS_PER_REPO:
        known = {r.name for r in await sql.list_secrets(tx.conn, repo_id)}
        if name not in known:
            detail = f"a repository holds at most {MAX_SECRETS_PER_REPO} secrets"
            raise Unprocessable(detail, code="too-many-secrets", field="name")
    ring = await keyring.current()
    sealed = ring.seal(body.value.get_secret_value(), secret_context(repo_id, name))
    row = await sql.put_secret(
        tx.conn, repo_id, name, list(body.inject_into), sealed, principal.owner_key
    )
    log.info("repository secret set", repo_id=str(repo_id), name=name, key_id=sealed.key_id)
    return secret_out(row)


@router.delete("/{repo_id}/secrets/{name}", status_code=204, responses=write(404))
async def delete_secret(repo_id: UUID, name: SecretName, principal: Developer, tx: Tx) -> Response:
    """Delete a secret: runs claimed from now on no longer get it."""
    if not await sql.delete_secret(tx.conn, repo_id, name):
        raise NotFound("secret", name)
    log.info("repository secret deleted", repo_id=str(repo_id), name=name, by=principal.owner_key)
    return Response(status_code=204)


def _check(name: str, body: SecretPut, allowed: Sequence[str]) -> None:
    refusal = name_refusal(name)
    if refusal is not None:
        raise Unprocessable(refusal, code="secret-name-refused", field="name")
    outside = [place for place in body.inject_into if place not in allowed]
    if outside:
        detail = f"{', '.join(outside)}: the operator allows secrets only in {allowed}"
        raise Unprocessable(detail, code="secret-place-not-allowed", field="inject_into")

"""Request dependencies: the service objects the lifespan built, and paging parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_kit.artifacts import ArtifactStore
from dursor_kit.web.pagination import DEFAULT_LIMIT, MAX_LIMIT
from run_api.keyring import KeyRingSource
from run_api.settings import RunApiSettings


def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


def _settings(request: Request) -> RunApiSettings:
    settings: RunApiSettings = request.app.state.settings
    return settings


def _artifacts(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.artifacts
    return store


def _keyring(request: Request) -> KeyRingSource:
    keyring: KeyRingSource = request.app.state.keyring
    return keyring


Engine = Annotated[AsyncEngine, Depends(_engine)]
KeyRing = Annotated[KeyRingSource, Depends(_keyring)]
Settings = Annotated[RunApiSettings, Depends(_settings)]
Artifacts = Annotated[ArtifactStore, Depends(_artifacts)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")]
Cursor = Annotated[
    str | None, Query(max_length=512, description="`next_cursor` of the previous page")
]
DEFAULT_PAGE = DEFAULT_LIMIT

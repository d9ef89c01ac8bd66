"""run-api in process for integration tests: the real app on a real database, no sidecar.

Requests go through httpx.ASGITransport into the real middleware, routes, services and
SQL. Tokens are real RS256 JWTs checked by the real `TokenVerifier`; only its JWKS
download is answered in process. The outbox relay is built but never run (tests that
need messages published use the whole platform).
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_kit.artifacts import LocalArtifactStore
from dursor_kit.auth.verifier import IssuerPolicy, TokenVerifier
from dursor_kit.crypto import EncryptionKeyRing
from dursor_kit.local_secrets import new_keyring
from dursor_kit.sidecar import Sidecar
from dursor_kit.web.app import no_lifespan
from dursor_store.outbox import OutboxRelay
from run_api.app import RunApiParts, create_app, install
from run_api.github.write_access import unavailable
from run_api.keyring import FixedKeyRing
from run_api.settings import RunApiSettings

ISSUER = "https://issuer.test"
JWKS_URL = f"{ISSUER}/jwks"
KID = "test-key-1"
# Local repositories of the in-process tests (paths need not exist; they are never cloned).
LOCAL_REPOS_ROOT = "/srv"


@functools.cache
def signing_key() -> rsa.RSAPrivateKey:
    """One RSA key per test session (generating one takes a moment)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(_: httpx.Request) -> httpx.Response:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key().public_key()))
    return httpx.Response(200, json={"keys": [public | {"kid": KID, "alg": "RS256"}]})


def mint(role: str, subject: str | None = None, ttl: int = 3600) -> str:
    """A token of the test issuer for `role` (subject defaults to the role name)."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": "dursor",
        "sub": subject or role,
        "preferred_username": subject or role,
        "roles": [role],
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, signing_key(), algorithm="RS256", headers={"kid": KID})


def bearer(role: str, subject: str | None = None) -> dict[str, str]:
    """Authorization header for `role`."""
    return {"authorization": f"Bearer {mint(role, subject)}"}


def owner_key(subject: str) -> str:
    """The `created_by` value of a test principal."""
    return f"{ISSUER}#{subject}"


async def _no_github(_: str, login: str) -> bool:
    """In process there is no auth service to ask GitHub (the platform tests cover it)."""
    raise unavailable(f"no GitHub to ask about {login}")


@dataclass
class RunApi:
    """The app, a client on it, and what it was built with."""

    app: FastAPI
    client: httpx.AsyncClient
    engine: AsyncEngine
    ring: EncryptionKeyRing
    settings: RunApiSettings


def laptop_settings(**overrides: Any) -> RunApiSettings:
    """Settings as on a laptop: file:// repositories under /srv and one command template."""
    values: dict[str, Any] = {
        "local_repos_root": LOCAL_REPOS_ROOT,
        "command_templates": {"append-note": ["sh", "-c", "true"]},
    }
    return RunApiSettings(**(values | overrides))


@contextlib.asynccontextmanager
async def run_api(
    engine: AsyncEngine, tmp_path: Path, ring: EncryptionKeyRing | None = None, **overrides: Any
) -> AsyncIterator[RunApi]:
    """run-api on `engine`'s database, with settings `overrides`."""
    settings = laptop_settings(**overrides)
    ring = ring or EncryptionKeyRing.from_json(new_keyring())
    async with httpx.AsyncClient(transport=httpx.MockTransport(_jwks)) as jwks_http:
        verifier = TokenVerifier(
            [IssuerPolicy(issuer=ISSUER, audience="dursor", jwks_url=JWKS_URL)], jwks_http
        )
        relay = OutboxRelay(engine, Sidecar(jwks_http, port=9), settings.app_id)
        artifacts = LocalArtifactStore(tmp_path / "artifacts")
        app = create_app(settings, lifespan_override=contextlib.asynccontextmanager(no_lifespan))
        parts = RunApiParts(
            settings, engine, relay, verifier, artifacts, FixedKeyRing(ring), _no_github
        )
        install(app, parts)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://run-api") as client:
            yield RunApi(app, client, engine, ring, settings)

"""auth: users, roles and the local OIDC issuer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from auth_service.github_app import endpoints as github
from auth_service.github_app.service import GitHubApp
from auth_service.oidc import endpoints as oidc
from auth_service.oidc.service import LocalIssuer
from auth_service.passwords import PasswordHashing
from auth_service.settings import AuthSettings
from auth_service.tokens import endpoints as tokens
from auth_service.users import endpoints as users
from auth_service.users.repository import ensure_local_user
from dursor_kit.auth.verifier import Role
from dursor_kit.db.unit_of_work import Transactions
from dursor_kit.runtime import ServiceRuntime, service_runtime, token_verifier
from dursor_kit.secret_names import ADMIN_PASSWORD, JWT_SIGNING_KEYS
from dursor_kit.web.app import create_service_app
from dursor_store.role_bindings import DatabaseAuthority


async def _create_first_admin(
    runtime: ServiceRuntime, issuer: LocalIssuer, settings: AuthSettings, passwords: PasswordHashing
) -> None:
    password_hash = await passwords.hash(await runtime.secret(ADMIN_PASSWORD))
    async with runtime.engine.begin() as conn:
        await ensure_local_user(
            conn, issuer.issuer, settings.admin_username, Role.ADMIN, password_hash
        )


@asynccontextmanager
async def lifespan(app: FastAPI, settings: AuthSettings) -> AsyncIterator[None]:
    """Own every client; create the first admin from the secret store."""
    passwords = PasswordHashing(settings.password_hash_threads)
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(passwords.close)
        runtime = await stack.enter_async_context(service_runtime(settings))
        issuer = LocalIssuer(
            settings.auth_issuer,
            settings.auth_audience,
            settings.token_ttl_seconds,
            lambda: runtime.secret(JWT_SIGNING_KEYS),
            settings.key_refresh_seconds,
        )
        if settings.auth_mode == "local":
            await _create_first_admin(runtime, issuer, settings, passwords)
        app.state.github_app = GitHubApp(
            runtime.http,
            runtime.sidecar,
            runtime.secret,
            settings.github_api_url,
            settings.github_hosts,
            settings.github_permission_cache_seconds,
        )
        app.state.engine = runtime.engine
        app.state.transactions = Transactions(runtime.engine, None)  # auth has no outbox
        app.state.issuer = issuer
        app.state.passwords = passwords
        app.state.verifier = token_verifier(
            settings, runtime.http, DatabaseAuthority(runtime.engine)
        )
        app.state.readiness = runtime.readiness()
        yield


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    """The auth ASGI app."""
    settings = settings or AuthSettings()
    return create_service_app(
        "dursor auth",
        partial(lifespan, settings=settings),
        [oidc.router, users.router, tokens.user_tokens_router, tokens.router, github.router],
        description="Users, roles, API tokens and the local OIDC issuer.",
        app_api_token=settings.sidecar_app_token(),
    )

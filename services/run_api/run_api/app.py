"""run-api: repositories, tasks, runs, model profiles, pull-request records and the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware import Middleware

from dursor_kit.artifacts import ArtifactStore, artifact_store_from
from dursor_kit.auth.verifier import TokenVerifier
from dursor_kit.db.unit_of_work import Transactions
from dursor_kit.runtime import service_runtime, token_verifier
from dursor_kit.secret_names import ENCRYPTION_KEYS
from dursor_kit.web.app import Lifespan, create_service_app
from dursor_kit.web.subscriptions import subscription_router
from dursor_kit.webhook_targets import Resolver, TargetPolicy, system_resolver
from dursor_store.outbox import OutboxRelay
from dursor_store.role_bindings import DatabaseAuthority
from run_api.comparison import endpoints as comparison
from run_api.dead_letters import endpoints as dead_letters
from run_api.github import endpoints as github
from run_api.github.service import GitHubEvents
from run_api.github.write_access import AuthServiceWriteAccess, WriteAccess
from run_api.idempotency.middleware import IdempotencyKeys, forget_expired_keys
from run_api.json_bodies import JsonBodies
from run_api.keyring import KeyRingSource, RefreshingKeyRing
from run_api.model_profiles import endpoints as model_profiles
from run_api.model_profiles.service import ModelProfiles
from run_api.openapi import install_openapi
from run_api.pull_requests import endpoints as pull_requests
from run_api.pull_requests.service import PullRequests
from run_api.repos import endpoints as repos
from run_api.runs import endpoints as runs
from run_api.runs.service import RunService
from run_api.secrets import endpoints as secrets
from run_api.settings import RunApiSettings
from run_api.submissions import endpoints as submissions
from run_api.submissions.service import Submissions
from run_api.tasks import endpoints as tasks
from run_api.usage import endpoints as usage
from run_api.webhooks import endpoints as webhooks
from run_api.webhooks.dispatcher import RetryPolicy, WebhookDispatcher
from run_api.webhooks.service import Webhooks

PURGE_INTERVAL_SECONDS = 3600.0


@dataclass(frozen=True)
class RunApiParts:
    """The clients run-api's routes and middleware use; a lifespan builds them."""

    settings: RunApiSettings
    engine: AsyncEngine
    relay: OutboxRelay
    verifier: TokenVerifier
    artifacts: ArtifactStore
    keyring: KeyRingSource
    write_access: WriteAccess
    resolver: Resolver = system_resolver


def install(app: FastAPI, parts: RunApiParts) -> None:
    """Make the parts and the services built on them reachable from requests."""
    app.state.settings = parts.settings
    app.state.engine = parts.engine
    app.state.verifier = parts.verifier
    app.state.artifacts = parts.artifacts
    app.state.keyring = parts.keyring
    app.state.transactions = Transactions(parts.engine, parts.relay)
    app.state.run_service = RunService(parts.settings)
    app.state.model_profiles = ModelProfiles(parts.keyring)
    app.state.pull_requests = PullRequests()
    app.state.submissions = Submissions(app.state.run_service)
    app.state.webhooks = Webhooks(parts.keyring, webhook_policy(parts.settings), parts.resolver)
    app.state.github_events = GitHubEvents(
        app.state.transactions,
        app.state.run_service,
        parts.settings.github_mention,
        parts.write_access,
    )


def webhook_policy(settings: RunApiSettings) -> TargetPolicy:
    """Where this deployment's webhooks may go."""
    return TargetPolicy.of(settings.webhook_mode, settings.webhook_allowed_networks)


def webhook_dispatcher(parts: RunApiParts) -> WebhookDispatcher:
    """The sender of the webhooks' outbox, built from the settings."""
    settings = parts.settings
    retries = RetryPolicy(
        settings.webhook_max_attempts,
        settings.webhook_backoff_seconds,
        settings.webhook_max_backoff_seconds,
    )
    return WebhookDispatcher(
        parts.engine,
        parts.keyring,
        webhook_policy(settings),
        parts.resolver,
        retries,
        settings.webhook_timeout_seconds,
    )


@asynccontextmanager
async def lifespan(app: FastAPI, settings: RunApiSettings) -> AsyncIterator[None]:
    """Own every client; run the outbox relay for the life of the process."""
    async with service_runtime(settings) as runtime:
        relay = OutboxRelay(runtime.engine, runtime.sidecar, settings.app_id)
        runtime.background.start(relay.run(), "outbox-relay")
        retention = timedelta(hours=settings.idempotency_retention_hours)
        runtime.background.start(
            forget_expired_keys(runtime.engine, retention, PURGE_INTERVAL_SECONDS),
            "idempotency-keys",
        )
        keyring = RefreshingKeyRing(
            partial(runtime.secret, ENCRYPTION_KEYS), settings.keyring_refresh_seconds
        )
        await keyring.current()  # fail at start, not at the first profile, if it is missing
        artifacts = artifact_store_from(settings)
        verifier = token_verifier(settings, runtime.http, DatabaseAuthority(runtime.engine))
        write_access = AuthServiceWriteAccess(runtime.sidecar)
        parts = RunApiParts(
            settings, runtime.engine, relay, verifier, artifacts, keyring, write_access
        )
        install(app, parts)
        runtime.background.start(
            webhook_dispatcher(parts).run(settings.webhook_poll_seconds), "webhooks"
        )
        app.state.readiness = runtime.readiness()
        try:
            yield
        finally:
            await artifacts.close()


def create_app(
    settings: RunApiSettings | None = None, lifespan_override: Lifespan | None = None
) -> FastAPI:
    """The run-api ASGI app (`lifespan_override` lets tests supply their own parts)."""
    settings = settings or RunApiSettings()
    app = create_service_app(
        "dursor run-api",
        lifespan_override or partial(lifespan, settings=settings),
        [
            repos.router,
            secrets.router,
            tasks.router,
            runs.router,
            pull_requests.router,
            model_profiles.router,
            dead_letters.router,
            dead_letters.admin_router,
            submissions.router,
            webhooks.router,
            github.router,
            usage.router,
            comparison.router,
            *(
                [subscription_router(settings.app_id)]
                if settings.programmatic_subscriptions
                else []
            ),
        ],
        max_body_bytes=settings.max_body_bytes,
        description=(
            "Repositories, tasks, runs, follow-ups, cancels, patches, event pages, model "
            "profiles and pull-request records. Every error is application/problem+json; "
            "every POST accepts an Idempotency-Key."
        ),
        app_api_token=settings.sidecar_app_token(),
    )
    # Innermost: inside the body-size limit and the request log, around the routes.
    app.user_middleware.append(Middleware(JsonBodies))
    app.user_middleware.append(Middleware(IdempotencyKeys))
    install_openapi(app)
    return app

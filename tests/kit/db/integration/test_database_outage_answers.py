"""The database away (restarting, refusing, sessions cut) is a 503 with Retry-After, never a 500.

Real PostgreSQL and a real asyncpg engine: a session the server terminates (what a
restart does to every open one), a server that refuses connections (down), both through
the kit's problem handlers; a bug stays a 500.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_kit.db.engine import create_engine
from dursor_kit.web.problems import install_problem_handlers
from tests.support.backing import free_port


def app_with(engine: AsyncEngine, statement: str) -> FastAPI:
    """One route that runs `statement` on the engine."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/work")
    async def work() -> dict[str, str]:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
        return {"ok": "yes"}

    return app


async def answer(app: FastAPI) -> httpx.Response:
    """GET /work in process; the app's own error handling decides the answer."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/work")


async def test_a_session_the_server_terminates_is_a_503_with_retry_after(
    engine: AsyncEngine,
) -> None:
    response = await answer(app_with(engine, "SELECT pg_terminate_backend(pg_backend_pid())"))

    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/database-unavailable")


async def test_a_server_refusing_connections_is_a_503_and_the_pool_recovers(
    engine: AsyncEngine,
) -> None:
    refused = create_engine(f"postgresql+asyncpg://nobody:x@127.0.0.1:{free_port()}/none")
    try:
        response = await answer(app_with(refused, "SELECT 1"))
    finally:
        await refused.dispose()
    after = await answer(app_with(engine, "SELECT 1"))

    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert after.status_code == 200


async def test_a_bug_is_still_a_500(engine: AsyncEngine) -> None:
    response = await answer(app_with(engine, "SELECT no_such_column FROM pg_class"))

    assert response.status_code == 500
    assert "retry-after" not in response.headers

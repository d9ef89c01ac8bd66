"""Domain errors: services raise them without HTTP; one handler answers each in problem+json."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from dursor_contracts.problems import PROBLEM_BASE_URI, PROBLEM_MEDIA_TYPE
from dursor_kit.errors import (
    Conflict,
    DomainError,
    Invalid,
    LimitReached,
    NotFound,
    Unavailable,
    Unprocessable,
)
from dursor_kit.web.problems import install_problem_handlers

CASES: list[tuple[DomainError, int, str, str]] = [
    (Invalid("too long", code="instruction-too-long", field="instruction"), 400, "Bad Request",
     "instruction-too-long"),
    (NotFound("run", "r1"), 404, "Not Found", "not-found"),
    (NotFound("patch", "r1", detail="run r1 has no patch yet", code="no-patch"), 404,
     "Not Found", "no-patch"),
    (Conflict("run r1 is running"), 409, "Conflict", "conflict"),
    (Unprocessable("outside the root", code="repo-outside-local-root", field="url"), 422,
     "Unprocessable Content", "repo-outside-local-root"),
    (LimitReached("3 of 3 runs are active", code="too-many-active-runs", retry_after=7), 429,
     "Too Many Requests", "too-many-active-runs"),
    (Unavailable("auth did not answer", code="permission-unavailable"), 503,
     "Service Unavailable", "permission-unavailable"),
]  # fmt: skip


def app_raising(error: DomainError) -> FastAPI:
    """An app whose one route raises `error` (as a service called by a route would)."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/things")
    async def refuse() -> None:
        raise error

    return app


@pytest.mark.parametrize(("error", "status", "title", "slug"), CASES)
async def test_each_domain_error_answers_with_its_problem(
    error: DomainError, status: int, title: str, slug: str
) -> None:
    transport = httpx.ASGITransport(app=app_raising(error))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post("/v1/things")
    body = answer.json()
    assert answer.status_code == status
    assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert body["type"] == f"{PROBLEM_BASE_URI}{slug}"
    assert body["title"] == title
    assert body["status"] == status
    assert body["detail"] == error.detail
    assert body["instance"] == "/v1/things"
    expected_params = [{"name": error.field, "reason": error.detail}] if error.field else None
    assert body.get("invalid-params") == expected_params
    assert answer.headers.get("retry-after") == (
        None if error.retry_after is None else str(error.retry_after)
    )


def test_not_found_says_what_does_not_exist() -> None:
    assert NotFound("task", "t1").detail == "task t1 does not exist"

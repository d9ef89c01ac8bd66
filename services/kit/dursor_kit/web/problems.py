"""problem+json answers: the error to raise, the handlers that render every failure."""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dursor_contracts.problems import PROBLEM_BASE_URI, PROBLEM_MEDIA_TYPE, InvalidParam, Problem
from dursor_kit.db.outage import RETRY_AFTER_SECONDS, is_database_outage
from dursor_kit.errors import (
    Conflict,
    DomainError,
    Invalid,
    LimitReached,
    NotFound,
    ProblemError,
    Unavailable,
    Unprocessable,
)

log = structlog.get_logger(__name__)


def not_found(kind: str, ident: object) -> ProblemError:
    """404 for a resource that does not exist (or that the caller may not know of)."""
    return ProblemError(404, "not-found", "Not Found", f"{kind} {ident} does not exist")


def conflict(detail: str) -> ProblemError:
    """409 for a request that the resource's current state refuses."""
    return ProblemError(409, "conflict", "Conflict", detail)


def bad_request(slug: str, detail: str, field: str | None = None) -> ProblemError:
    """400 for input that is well-formed JSON but not acceptable."""
    params = [InvalidParam(name=field, reason=detail)] if field else None
    return ProblemError(400, slug, "Bad Request", detail, invalid_params=params)


# The one mapping from a domain error's kind to its HTTP status and title.
DOMAIN_ANSWERS: dict[type[DomainError], tuple[int, str]] = {
    Invalid: (400, "Bad Request"),
    NotFound: (404, "Not Found"),
    Conflict: (409, "Conflict"),
    Unprocessable: (422, "Unprocessable Content"),
    LimitReached: (429, "Too Many Requests"),
    Unavailable: (503, "Service Unavailable"),
    DomainError: (400, "Bad Request"),
}


def problem_of(error: DomainError) -> ProblemError:
    """The problem+json answer of a domain error."""
    kind = next(k for k in type(error).__mro__ if k in DOMAIN_ANSWERS)
    status, title = DOMAIN_ANSWERS[kind]
    params = [InvalidParam(name=error.field, reason=error.detail)] if error.field else None
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return ProblemError(status, error.code, title, error.detail, headers, params)


class ProblemJSONResponse(JSONResponse):
    """A problem document rendered by orjson (4xx answers are on the edge's hot path too)."""

    def render(self, content: Any) -> bytes:
        """The compact JSON of the document (the same text the standard encoder makes)."""
        return orjson.dumps(content)


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    """Serialise a problem with its media type."""
    return ProblemJSONResponse(
        problem.model_dump(by_alias=True, exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body",)) or "body"


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.to_problem(request.url.path), exc.headers)


async def _on_domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    problem = problem_of(exc)
    return problem_response(problem.to_problem(request.url.path), problem.headers)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    params = [InvalidParam(name=_location(e["loc"]), reason=e["msg"]) for e in exc.errors()]
    error = ProblemError(422, "validation", "Unprocessable Content", "request is invalid")
    error.invalid_params = params
    return problem_response(error.to_problem(request.url.path))


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    problem = Problem(
        type="about:blank",
        title=_phrase(exc.status_code),
        status=exc.status_code,
        detail=str(exc.detail),
        instance=request.url.path,
    )
    return problem_response(problem, dict(exc.headers or {}))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_database_outage(exc):
        return _database_away(request, exc)
    log.exception("unhandled error", path=request.url.path, error_type=type(exc).__name__)
    problem = Problem(
        type=f"{PROBLEM_BASE_URI}internal",
        title="Internal Server Error",
        status=500,
        detail="the server failed; the error is logged",
        instance=request.url.path,
    )
    return problem_response(problem)


def _database_away(request: Request, exc: Exception) -> JSONResponse:
    """503 + Retry-After while the database restarts: nothing was decided, try again."""
    log.warning("database unavailable", path=request.url.path, error=repr(exc)[:300])
    problem = Problem(
        type=f"{PROBLEM_BASE_URI}database-unavailable",
        title="Service Unavailable",
        status=503,
        detail="the database is not reachable right now; nothing was changed",
        instance=request.url.path,
    )
    return problem_response(problem, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def install_problem_handlers(app: FastAPI) -> None:
    """Make every failure of the app answer in problem+json."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(DomainError, _on_domain)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries declaring problem+json answers for these statuses."""
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {}},
            "description": _phrase(status),
        }
        for status in statuses
    }


def _phrase(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase

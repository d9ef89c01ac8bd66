"""Domain errors: what a service refuses, said without HTTP; one web handler answers each.

A service raises these (never an HTTP status); `dursor_kit.web.problems` maps each kind to
its problem+json answer. Nothing the refused request asked for was changed. The edges
that speak HTTP themselves (token checks, middleware) raise a `ProblemError` instead.
"""

from __future__ import annotations

from dursor_contracts.problems import PROBLEM_BASE_URI, InvalidParam, Problem


class DomainError(Exception):
    """A request the domain refuses; `code` names the kind of problem, `field` the input."""

    default_code = "error"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        field: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.field = field
        self.retry_after = retry_after


class NotFound(DomainError):
    """The thing does not exist (or the caller may not know of it)."""

    default_code = "not-found"

    def __init__(
        self, kind: str, ident: object, *, detail: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(detail or f"{kind} {ident} does not exist", code=code)


class Conflict(DomainError):
    """The thing's current state refuses the request."""

    default_code = "conflict"


class Invalid(DomainError):
    """Well-formed input that is not acceptable (`code` says why, `field` where)."""


class Unprocessable(DomainError):
    """Input that is valid in form but names something that cannot be used."""


class LimitReached(DomainError):
    """A quota is used up; the caller may retry after `retry_after` seconds."""


class Unavailable(DomainError):
    """Something the request needs did not answer; nothing was decided."""


class ProblemError(Exception):
    """Raise anywhere in a request to answer with that problem; nothing else is changed."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        invalid_params: list[InvalidParam] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.invalid_params = invalid_params

    def to_problem(self, instance: str | None = None) -> Problem:
        """The problem document this error answers with."""
        return Problem(
            type=f"{PROBLEM_BASE_URI}{self.slug}",
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            **{"invalid-params": self.invalid_params},
        )

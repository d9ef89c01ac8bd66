"""Error answers each kind of route declares in OpenAPI (all problem+json)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header

from dursor_kit.web.problems import problem_responses
from run_api.idempotency.middleware import MAX_KEY_LENGTH

Responses = dict[int | str, dict[str, Any]]

# A read of one resource: bad token, role, unknown id, malformed id.
READ: Responses = problem_responses(401, 403, 404, 422)
# A page of a list: the same plus a cursor this API did not issue.
LIST: Responses = problem_responses(400, 401, 403, 422)
LIST_OF: Responses = problem_responses(400, 401, 403, 404, 422)


def write(*extra: int) -> Responses:
    """A POST: bad input, auth, idempotency conflicts, size, media type, plus `extra`."""
    return problem_responses(400, 401, 403, 409, 413, 415, 422, *extra)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Retry-safe POST: the same key and body from the same caller gets the first "
            "answer again; another body gets 422; a duplicate still in flight gets 409."
        ),
    ),
]

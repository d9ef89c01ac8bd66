"""RFC 9457 problem details: the one error model of every service and the gateway."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE_URI = "https://dursor.cloud/problems/"


class InvalidParam(BaseModel):
    """One offending input field of a 4xx answer."""

    name: str
    reason: str


class Problem(BaseModel):
    """An error answer in `application/problem+json`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": f"{PROBLEM_BASE_URI}not-found",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "run 7c1e… does not exist",
                }
            ]
        }
    )

    type: str = Field(default="about:blank", description="URI naming the kind of problem")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    instance: str | None = None
    invalid_params: list[InvalidParam] | None = Field(default=None, alias="invalid-params")

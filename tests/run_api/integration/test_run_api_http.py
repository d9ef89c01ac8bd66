"""What every route of run-api shares: auth, problem+json answers, declared OpenAPI errors."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from run_api.app import create_app
from tests.support.run_api_app import RunApi, bearer, laptop_settings, mint, run_api

PROBLEM = "application/problem+json"
DEV = bearer("developer")


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) of every public operation in the OpenAPI."""
    schema = create_app(laptop_settings()).openapi()
    for path, item in schema["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in item.items():
            yield method.upper(), path, operation


OPERATIONS = [pytest.param(m, p, o, id=f"{m} {p}") for m, p, o in operations()]
WRITES = [param for param in OPERATIONS if param.values[0] != "GET"]


def concrete(path: str) -> str:
    """The path with a fresh UUID in every parameter."""
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid4()), path)


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    """run-api with a small body limit, so 413 is cheap to provoke."""
    async with run_api(engine, tmp_path, max_body_bytes=2048) as app:
        yield app


def test_the_api_has_every_route_of_the_design() -> None:
    found = {(m, p) for m, p, _ in operations()}
    assert found == {
        ("POST", "/v1/repos"),
        ("GET", "/v1/repos"),
        ("GET", "/v1/repos/{repo_id}"),
        ("POST", "/v1/tasks"),
        ("GET", "/v1/tasks"),
        ("GET", "/v1/tasks/{task_id}"),
        ("POST", "/v1/tasks/{task_id}/runs"),
        ("GET", "/v1/tasks/{task_id}/runs"),
        ("GET", "/v1/tasks/{task_id}/messages"),
        ("GET", "/v1/tasks/{task_id}/pull-requests"),
        ("GET", "/v1/runs/{run_id}"),
        ("POST", "/v1/runs/{run_id}/messages"),
        ("GET", "/v1/runs/{run_id}/messages"),
        ("POST", "/v1/runs/{run_id}/cancel"),
        ("GET", "/v1/runs/{run_id}/patch"),
        ("GET", "/v1/runs/{run_id}/events"),
        ("POST", "/v1/runs/{run_id}/pull-request"),
        ("POST", "/v1/model-profiles"),
        ("GET", "/v1/model-profiles"),
        ("GET", "/v1/model-profiles/{profile_id}"),
        ("DELETE", "/v1/model-profiles/{profile_id}"),
        # The pull-request loop (issue 17).
        ("GET", "/v1/runs/{run_id}/pull-request/loop"),
        # Integrations (issue 20): dead letters and outgoing webhooks.
        ("GET", "/v1/dead-letters"),
        ("POST", "/v1/webhooks"),
        ("GET", "/v1/webhooks"),
        ("DELETE", "/v1/webhooks/{webhook_id}"),
        ("GET", "/v1/webhooks/{webhook_id}/deliveries"),
        # Environments, usage, verification and comparison (issue 18).
        ("GET", "/v1/repos/{repo_id}/environment"),
        ("PUT", "/v1/repos/{repo_id}/environment"),
        ("GET", "/v1/repos/{repo_id}/secrets"),
        ("PUT", "/v1/repos/{repo_id}/secrets/{name}"),
        ("DELETE", "/v1/repos/{repo_id}/secrets/{name}"),
        ("GET", "/v1/repos/{repo_id}/usage"),
        ("GET", "/v1/runs/{run_id}/usage"),
        ("GET", "/v1/runs/{run_id}/verifications"),
        ("GET", "/v1/tasks/{task_id}/usage"),
        ("GET", "/v1/tasks/{task_id}/comparison"),
        ("GET", "/v1/usage"),
    }


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS)
def test_every_operation_declares_its_problem_answers(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    declared = {int(code) for code in operation["responses"] if code[0] in "45"}
    assert {401, 403, 422} <= declared
    if method == "POST":
        assert {400, 409, 413, 415} <= declared
        assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
    if "{" in path:
        assert 404 in declared
    for code in declared:
        assert list(operation["responses"][str(code)]["content"]) == [PROBLEM]


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS)
def test_every_request_body_has_an_example(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    body = operation.get("requestBody")
    if body is None:
        return
    reference = body["content"]["application/json"]["schema"]
    name = (reference.get("$ref") or reference["anyOf"][0]["$ref"]).rsplit("/", 1)[1]
    schema = create_app(laptop_settings()).openapi()["components"]["schemas"][name]
    assert schema.get("examples"), name


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS)
async def test_every_operation_wants_a_valid_token(
    api: RunApi, method: str, path: str, operation: dict[str, Any]
) -> None:
    url = concrete(path)
    missing = await api.client.request(method, url, json={})
    expired = await api.client.request(
        method, url, json={}, headers={"authorization": f"Bearer {mint('admin', ttl=-3600)}"}
    )
    for response in (missing, expired):
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == 'Bearer realm="dursor"'
    assert expired.json()["detail"] == "the token has expired"


@pytest.mark.parametrize(("method", "path", "operation"), WRITES)
async def test_viewers_change_nothing(
    api: RunApi, method: str, path: str, operation: dict[str, Any]
) -> None:
    response = await api.client.request(method, concrete(path), json={}, headers=bearer("viewer"))
    assert response.status_code == 403
    assert response.json()["detail"].startswith("this needs the")


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_developers_do_not_manage_model_credentials(api: RunApi, method: str) -> None:
    path = "/v1/model-profiles" if method == "POST" else f"/v1/model-profiles/{uuid4()}"
    response = await api.client.request(method, path, json={}, headers=DEV)
    assert response.status_code == 403
    assert response.json()["detail"] == "this needs the admin role"


async def test_unknown_paths_are_a_problem_404(api: RunApi) -> None:
    response = await api.client.get("/v1/nothing-here", headers=DEV)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["instance"] == "/v1/nothing-here"


async def test_wrong_methods_are_a_problem_405_with_allow(api: RunApi) -> None:
    response = await api.client.put("/v1/repos", json={}, headers=DEV)
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert "POST" in response.headers["allow"].split(", ")


async def test_oversized_bodies_are_a_413_declared_or_streamed(api: RunApi) -> None:
    big = {"repo_id": str(uuid4()), "title": "x" * 4000}
    declared = await api.client.post("/v1/tasks", json=big, headers=DEV)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * 512

    streamed = await api.client.post(
        "/v1/tasks", content=chunks(), headers=DEV | {"content-type": "application/json"}
    )
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["detail"] == "the request body is limited to 2048 bytes"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_bodies_that_are_not_json_are_a_415(api: RunApi, content_type: str | None) -> None:
    headers = DEV | ({"content-type": content_type} if content_type else {})
    response = await api.client.post("/v1/repos", content=b"url=x", headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["accept-post"] == "application/json"


async def test_broken_json_is_a_422(api: RunApi) -> None:
    response = await api.client.post(
        "/v1/repos", content=b'{"url": ', headers=DEV | {"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("/validation")


@pytest.mark.parametrize(
    ("params", "status"),
    [({"limit": 0}, 422), ({"limit": 201}, 422), ({"cursor": "bm9wZQ"}, 400)],
)
async def test_bad_paging_parameters_are_refused(
    api: RunApi, params: dict[str, Any], status: int
) -> None:
    response = await api.client.get("/v1/repos", params=params, headers=DEV)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM


async def test_malformed_ids_in_paths_are_a_422(api: RunApi) -> None:
    response = await api.client.get("/v1/runs/not-a-uuid", headers=DEV)
    assert response.status_code == 422
    assert response.json()["invalid-params"][0]["name"] == "path.run_id"

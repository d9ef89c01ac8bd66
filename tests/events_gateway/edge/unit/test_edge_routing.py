"""The gateway's strict request targets and its fixed route table, without a platform."""

from __future__ import annotations

import uuid

import pytest

from dursor_kit.errors import ProblemError
from events_gateway.edge.public_api import route_table
from events_gateway.edge.request_target import TargetRefused, clean_segments
from events_gateway.edge.route_table import Operation, RouteTable, RouteTableError, operations_of

RUN = "7c1e2a4b-0d7f-4c55-9a43-0e2f4b1d9c11"

# Every one of these walks, or tries to walk, out of the public API (or hides a byte).
UNCLEAN = [
    b"/v1/runs/../../v1.0/secrets/secretstore/jwt-signing-keys",
    b"/v1/runs/./x",
    b"/v1/runs/..",
    b"/v1/runs/.",
    b"/v1/runs/%2e%2e/%2e%2e/v1.0/secrets/secretstore/admin-password",
    b"/v1/runs/%2E%2E/x",
    b"/v1/runs/..%2f..%2fv1.0%2fsecrets",
    b"/v1/runs/%252e%252e/x",
    b"/v1/runs/%5c..%5cx",
    b"/v1/runs/..\\..\\v1.0",
    b"/v1/runs/x%00",
    b"/v1/runs/x\x00y",
    b"/v1/runs/" + RUN.encode() + b";x=1",
    b"/v1/runs//" + RUN.encode(),
    b"/v1/runs/" + RUN.encode() + b"/",
    b"/v1/tasks/%2f",
    b"/v1/auth/../../v1.0/shutdown",
    b"/v1/github/webhook/../../internal/github/events",
    b"/v1/runs/x y",
    b"/v1/runs/\xc3\xa9",
    b"/" + b"a" * 1100,
]


@pytest.mark.parametrize("raw", UNCLEAN, ids=lambda r: r[:60].decode("latin-1"))
def test_unclean_paths_are_refused(raw: bytes) -> None:
    with pytest.raises(TargetRefused) as refused:
        clean_segments(raw)
    assert refused.value.status == 404


@pytest.mark.parametrize(
    "raw", [b"http://127.0.0.1:3500/v1.0/secrets/secretstore/x", b"*", b"v1/runs", b""]
)
def test_targets_that_are_not_origin_form_are_a_400(raw: bytes) -> None:
    with pytest.raises(TargetRefused) as refused:
        clean_segments(raw)
    assert refused.value.status == 400


def test_plain_paths_split_into_segments() -> None:
    assert clean_segments(f"/v1/runs/{RUN}/stream".encode()) == ("v1", "runs", RUN, "stream")
    assert clean_segments(b"/openapi.json") == ("openapi.json",)
    assert clean_segments(b"/") == ()


def test_the_table_rebuilds_the_upstream_path_from_the_template_and_the_uuid() -> None:
    table = route_table()
    match = table.match("GET", ("v1", "runs", RUN.upper()))
    assert match is not None
    assert (match.operation.app_id, match.upstream_path()) == ("run-api", f"/v1/runs/{RUN}")
    assert match.operation.query == frozenset()
    listing = table.match("GET", ("v1", "tasks"))
    assert listing is not None
    assert listing.operation.query == {"limit", "cursor", "repo_id"}


def test_only_the_password_flow_is_public() -> None:
    public = {(o.method, o.template) for o in route_table().operations if o.public}
    assert public == {("POST", "/v1/auth/token")}


def test_no_internal_or_sidecar_route_is_in_the_table() -> None:
    templates = {template for _, template in route_table().templates()}
    assert templates
    assert all(t.startswith("/v1/") for t in templates)
    assert not any("internal" in t or "dapr" in t or "v1.0" in t for t in templates)


@pytest.mark.parametrize(
    ("method", "segments", "status"),
    [
        ("GET", ("v1", "runs", "not-a-uuid"), 422),
        ("GET", ("v1", "runs", "{" + RUN + "}"), 422),
        ("GET", ("v1", "runs", "urn:uuid:" + RUN), 422),
        ("PATCH", ("v1", "runs", RUN), 405),
        ("DELETE", ("v1", "tasks"), 405),
    ],
)
def test_a_path_of_the_table_with_a_bad_id_or_method_is_a_4xx(
    method: str, segments: tuple[str, ...], status: int
) -> None:
    with pytest.raises(ProblemError) as problem:
        route_table().match(method, segments)
    assert problem.value.status == status


@pytest.mark.parametrize(
    "segments",
    [
        ("v1", "runs"),
        ("v1", "runs", RUN, "secrets"),
        ("v1.0", "secrets", "secretstore", "jwt-signing-keys"),
        ("internal", "github", "events"),
        ("dapr", "subscribe"),
        ("v1", "runs", RUN, "stream"),  # the gateway serves streams itself
    ],
)
def test_anything_else_matches_nothing(segments: tuple[str, ...]) -> None:
    assert route_table().match("GET", segments) is None


def test_the_more_literal_template_wins() -> None:
    by_id = Operation("GET", "/v1/users/{user_id}", "auth", False, frozenset())
    me = Operation("GET", "/v1/users/me", "auth", False, frozenset())
    table = RouteTable([by_id, me])
    found = table.match("GET", ("v1", "users", "me"))
    assert found is not None
    assert found.operation is me
    other = table.match("GET", ("v1", "users", str(uuid.UUID(RUN))))
    assert other is not None
    assert other.operation is by_id


def _document(template: str, schema: dict[str, str]) -> dict[str, object]:
    parameter = {"name": "x", "in": "path", "required": True, "schema": schema}
    return {"paths": {template: {"get": {"parameters": [parameter]}}}}


@pytest.mark.parametrize(
    ("template", "schema"),
    [
        ("/v1/files/{x}", {"type": "string"}),  # only UUIDs and variable names are forwarded
        ("/v1/files/{x}", {"type": "string", "pattern": "^.*$"}),
        ("/v1/files/{x}", {"type": "string", "pattern": "^[A-Za-z_./]+$"}),
        ("/v1/files/{x}/{y}", {"type": "string", "format": "uuid"}),
        ("/v1/Files/{x}", {"type": "string", "format": "uuid"}),
        ("/v1/files..x/{x}", {"type": "string", "format": "uuid"}),
    ],
)
def test_a_document_the_gateway_cannot_forward_safely_is_refused(
    template: str, schema: dict[str, str]
) -> None:
    with pytest.raises(RouteTableError):
        operations_of("run-api", _document(template, schema))


def test_two_apps_cannot_serve_the_same_operation() -> None:
    one = Operation("GET", "/v1/things/{a}", "run-api", False, frozenset())
    two = Operation("GET", "/v1/things/{b}", "auth", False, frozenset())
    with pytest.raises(RouteTableError):
        RouteTable([one, two])


@pytest.mark.parametrize("name", ["NPM_TOKEN", "_x", "a1"])
def test_a_secret_name_is_forwarded_as_the_plain_segment_it_is(name: str) -> None:
    match = route_table().match("PUT", ("v1", "repos", RUN, "secrets", name))
    assert match is not None
    assert match.upstream_path() == f"/v1/repos/{RUN}/secrets/{name}"


@pytest.mark.parametrize("name", ["1ABC", "a-b", "a.b", "a~b", "x" * 129, RUN])
def test_a_secret_name_that_is_no_variable_name_is_a_422(name: str) -> None:
    with pytest.raises(ProblemError) as problem:
        route_table().match("DELETE", ("v1", "repos", RUN, "secrets", name))
    assert problem.value.status == 422

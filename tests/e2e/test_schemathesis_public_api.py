"""schemathesis against the public OpenAPI document, through the gateway: no 5xx, no breach.

A bounded run of `scripts/schemathesis.sh` (examples and fuzzing, a few hundred
requests); the full run, every phase with the stateful one, is the script without arguments.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.platform import ROOT, Platform

pytestmark = pytest.mark.e2e

PUBLIC_DOCUMENT = ROOT / "docs" / "openapi.json"


def fuzzed_operations() -> int:
    """Every /v1/ operation of the public document but the live streams."""
    paths = json.loads(PUBLIC_DOCUMENT.read_text())["paths"]
    return sum(
        len(item)
        for path, item in paths.items()
        if path.startswith("/v1/") and not path.endswith("/stream")
    )


def statuses(report: Path) -> collections.Counter[tuple[str, int]]:
    """(operation, status) of every request schemathesis sent, from its NDJSON report."""
    seen: collections.Counter[tuple[str, int]] = collections.Counter()
    for line in report.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if finished is None:
            continue
        recorder = finished["recorder"]
        for interaction in recorder.get("interactions", {}).values():
            if interaction.get("response"):
                seen[(recorder["label"], interaction["response"]["status_code"])] += 1
    return seen


async def test_schemathesis_finds_no_server_error_and_no_undeclared_answer(
    platform: Platform, tmp_path: Path
) -> None:
    report = tmp_path / "schemathesis.ndjson"
    env = os.environ | {
        "GATEWAY_URL": platform.gateway.url,
        "TOKEN": platform.mint_token("admin"),
        "RATE_LIMIT": "2000/s",  # the platform's limit here (tests send bursts)
    }
    arguments = ["--phases", "examples,fuzzing", "--max-examples", "12", "--seed", "1"]
    reporting = ["--report", "ndjson", "--report-ndjson-path", str(report)]
    result = await asyncio.to_thread(
        subprocess.run,
        ["bash", "scripts/schemathesis.sh", *arguments, *reporting, "--workers", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-6000:]
    seen = statuses(report)
    requests = sum(seen.values())
    assert 100 <= requests <= 600, requests
    assert f"Tested: {fuzzed_operations()}" in result.stdout
    assert [key for key in seen if key[1] >= 500] == []
    # It reached the routes' own logic, not only the edge's checks.
    assert {status for _, status in seen} >= {200, 201, 202, 204, 404, 422}


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/v1/runs/%0Cx%1F", {}, 404),  # Dapr refuses control characters in a method
        ("/v1/tasks/%25zz", {}, 404),  # and a literal `%`
        ("/v1/repos", {"Idempotency-Key": "clé"}, 400),  # non-ASCII header values
    ],
)
async def test_input_the_sidecar_cannot_carry_is_a_4xx_at_the_edge(
    platform: Platform, path: str, headers: dict[str, str], status: int
) -> None:
    auth = platform.bearer("admin")
    raw_headers = [(k.encode(), v.encode()) for k, v in (auth | headers).items()]
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        response = await client.post(path, json={"url": "file:///x"}, headers=raw_headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"

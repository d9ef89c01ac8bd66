"""The web UI in a real browser (Debian's chromium driven by Playwright) against the real platform.

One platform, one GitHub stand-in and one web server (`vite preview` of the built
`web/dist`, proxying `/v1` to the gateway as `scripts/run.sh` serves it) are shared by
every step of `web/e2e/flow.spec.ts`: sign in, three command runs streaming live, a
reload mid-run compared with the event log, two diffs compared, a follow-up, a cancel,
a pull request whose CI state changes, a Viewer without mutating controls, a repository's
verify command set in Settings, a second submission of three runs ranked (rule picker, a
refused rule), a run page's usage and verification, the caller's usage totals, and an axe
check of each page. Screenshots land in `web/test-results/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dursor_kit.secret_names import ADMIN_PASSWORD, GITHUB_WEBHOOK_SECRET
from tests.conftest import PlatformFactory
from tests.e2e.test_pull_request_flow import app_key_pair, start_platform
from tests.standins.github_repos import GitHubRepos
from tests.support.asgi_server import serve
from tests.support.backing import free_port
from tests.support.git_remote import make_remote
from tests.support.platform import ROOT, Platform

pytestmark = pytest.mark.e2e

WEB = ROOT / "web"
REPO = "acme/widgets"
CHROMIUM = Path("/usr/bin/chromium")


@dataclass
class WebStack:
    """What the browser flow talks to."""

    platform: Platform
    web_url: str
    repo_url: str
    github_url: str


@contextlib.asynccontextmanager
async def web_server(gateway_url: str) -> AsyncIterator[str]:
    """`vite preview` of web/dist on a free port, proxying /v1 to the gateway."""
    if not (WEB / "dist" / "index.html").exists() or not (WEB / "node_modules").exists():
        raise RuntimeError("web/dist or web/node_modules missing: run scripts/bootstrap.sh")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        str(WEB / "node_modules" / ".bin" / "vite"),
        "preview",
        "--port",
        str(port),
        cwd=WEB,
        env=os.environ | {"DURSOR_GATEWAY_URL": gateway_url},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_for_page(url, process)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        await process.wait()


async def _wait_for_page(url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"vite preview exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"the web server at {url} did not answer")


@contextlib.asynccontextmanager
async def web_stack(make_platform: PlatformFactory, workdir: Path) -> AsyncIterator[WebStack]:
    """The GitHub stand-in with one repository, the platform pointed at it, the web server."""
    private_key, public_key = app_key_pair()
    port = free_port()
    github = GitHubRepos(workdir / "github", app_public_key=public_key, installations={REPO: 7})
    (workdir / "github" / "acme").mkdir(parents=True)
    shutil.move(str(make_remote(workdir / "seed")), github.repo_path(REPO))
    async with serve(github.app(), port):
        platform = await start_platform(make_platform, port, private_key)
        async with web_server(platform.gateway.url) as web_url:
            github_url = f"http://127.0.0.1:{port}"
            yield WebStack(platform, web_url, f"{github_url}/{REPO}.git", github_url)


def require_chromium() -> None:
    """Debian's chromium, which the bootstrap installs with the test tools."""
    if not CHROMIUM.exists():
        raise RuntimeError("chromium missing: run scripts/bootstrap.sh --with-test-tools")


def assert_every_step_passed(text: str) -> None:
    """Playwright's summary: every step passed; none failed, was skipped or did not run."""
    passed = re.search(r"^\s*(\d+) passed", text, re.MULTILINE)
    assert passed is not None, text[-6000:]
    assert int(passed.group(1)) >= 10, text[-6000:]
    for word in ("failed", "skipped", "did not run", "flaky", "interrupted"):
        assert not re.search(rf"^\s*\d+ {word}", text, re.MULTILINE), text[-6000:]


@pytest.mark.timeout(600)
async def test_web_ui_flow_in_chromium(make_platform: PlatformFactory, tmp_path: Path) -> None:
    require_chromium()
    async with web_stack(make_platform, tmp_path) as stack:
        env = os.environ | {
            "WEB_URL": stack.web_url,
            "REPO_URL": stack.repo_url,
            "GITHUB_URL": stack.github_url,
            "ADMIN_PASSWORD": stack.platform.secrets[ADMIN_PASSWORD],
            "WEBHOOK_SECRET": stack.platform.secrets[GITHUB_WEBHOOK_SECRET],
        }
        # Asynchronously: the GitHub stand-in serves from this test's event loop meanwhile.
        process = await asyncio.create_subprocess_exec(
            str(WEB / "node_modules" / ".bin" / "playwright"),
            "test",
            cwd=WEB,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
    text = output.decode(errors="replace")
    print(text)  # the per-step timings and the time to first live frame
    assert process.returncode == 0, text[-6000:]
    assert_every_step_passed(text)

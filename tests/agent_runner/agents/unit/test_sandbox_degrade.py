"""A host that cannot jail agents refuses to run them, or runs them with a loud warning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from agent_runner.agents.sandbox import (
    HostSupport,
    JailRequest,
    Sandbox,
    SandboxPolicy,
    SandboxUnavailable,
)
from agent_runner.agents.sandbox.destinations import EgressError, HostPattern, plan_routes
from agent_runner.agents.sandbox.host import probe
from agent_runner.agents.sandbox.policy import decide
from agent_runner.agents.sandbox.schemas import Upstream

MISSING_BWRAP = "dursor-test-no-such-bwrap"


def jail_capable_host(**overrides: object) -> HostSupport:
    """What a host with everything a jail needs reports."""
    values: dict[str, object] = {
        "bwrap": "/usr/bin/bwrap",
        "bwrap_version": "0.8.0",
        "is_root": True,
        "unprivileged_userns": True,
        "cgroup_mode": "v1",
        "tripwire": True,
        "loop_disk": True,
    }
    return HostSupport(**(values | overrides))  # type: ignore[arg-type]


async def test_without_bubblewrap_the_probe_says_so(tmp_path: Path) -> None:
    support = await probe(SandboxPolicy(state_dir=tmp_path, bwrap=MISSING_BWRAP))
    assert support.bwrap is None
    assert f"bubblewrap ({MISSING_BWRAP}) is not installed" in support.problems
    assert not support.can_jail


async def test_without_bubblewrap_agents_are_refused_by_default(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="refusing to run them") as refused:
        await Sandbox.open(SandboxPolicy(state_dir=tmp_path, bwrap=MISSING_BWRAP))
    assert MISSING_BWRAP in str(refused.value)


async def test_allowing_unjailed_agents_warns_loudly_and_builds_no_jail(tmp_path: Path) -> None:
    policy = SandboxPolicy(state_dir=tmp_path, bwrap=MISSING_BWRAP, allow_unjailed=True)
    with capture_logs() as logs:
        sandbox = await Sandbox.open(policy)
    assert not sandbox.verdict.jailed
    assert sandbox.verdict.warning is not None
    assert sandbox.verdict.warning.startswith("AGENTS RUN UNJAILED: ")
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [sandbox.verdict.warning]

    async def ignore(host: str, port: int, reason: str) -> None:
        raise AssertionError("no egress exists without a jail")

    request = JailRequest(run_id="r", workspace=tmp_path / "w", home=tmp_path / "h")
    with pytest.raises(RuntimeError, match="unjailed"):
        async with sandbox.jail(request, ignore):
            pass


def test_a_capable_host_jails_and_an_incapable_one_never_pretends(tmp_path: Path) -> None:
    policy = SandboxPolicy(state_dir=tmp_path)
    assert decide(jail_capable_host(), policy).jailed
    for broken in (
        jail_capable_host(bwrap=None, problems=("bubblewrap (bwrap) is not installed",)),
        jail_capable_host(is_root=False, problems=("the runner is not root",)),
        jail_capable_host(problems=("bubblewrap cannot create namespaces here: denied",)),
    ):
        with pytest.raises(SandboxUnavailable, match=re.escape(broken.problems[0])):
            decide(broken, policy)
        verdict = decide(broken, SandboxPolicy(state_dir=tmp_path, allow_unjailed=True))
        assert not verdict.jailed
        assert verdict.warning is not None
        assert broken.problems[0] in verdict.warning


def test_allowlist_patterns_match_host_and_port_exactly() -> None:
    exact, wildcard = HostPattern.parse("pypi.org"), HostPattern.parse("*.npmjs.org:8443")
    assert exact.matches("PyPI.org.", 443)
    assert not exact.matches("pypi.org", 80)
    assert not exact.matches("evilpypi.org", 443)
    assert wildcard.matches("registry.npmjs.org", 8443)
    assert not wildcard.matches("npmjs.org.evil.com", 8443)
    with pytest.raises(EgressError):
        HostPattern.parse("pypi.*")


def test_model_upstreams_keep_loopback_and_name_the_rest() -> None:
    routes = plan_routes(
        (Upstream.from_url("http://127.0.0.1:8123"), Upstream.from_url("https://api.x.com"))
    )
    assert [(r.jail_host, r.port, r.name) for r in routes] == [
        ("127.0.0.1", 8123, None),
        ("127.0.0.2", 443, "api.x.com"),
    ]
    with pytest.raises(EgressError):
        plan_routes((Upstream("10.0.0.1", 443),))

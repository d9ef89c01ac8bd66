"""The worker's choice for agent processes: jailed, unjailed with a warning, or refused."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from agent_runner.agents.confinement import AgentsRefused, Confinement
from agent_runner.settings import RunnerSettings

MISSING_BWRAP = "dursor-test-no-such-bwrap"


def settings_for(tmp_path: Path, **values: object) -> RunnerSettings:
    """Runner settings with the sandbox's state under `tmp_path`."""
    return RunnerSettings(sandbox_state_dir=str(tmp_path / "sandbox"), **values)  # type: ignore[arg-type]


async def run_jail_of(confinement: Confinement, tmp_path: Path) -> tuple[object, list[str]]:
    """The turn's jail (or None) and the system lines logged to the run while asking for it."""
    lines: list[str] = []

    async def system_log(line: str) -> None:
        lines.append(line)

    jail = await confinement.for_run(uuid4(), tmp_path, tmp_path, system_log)
    return jail, lines


async def test_jail_is_the_default_and_without_bubblewrap_refuses_agent_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DURSOR_SANDBOX", "DURSOR_SANDBOX_ALLOW_UNJAILED"):
        monkeypatch.delenv(name, raising=False)
    settings = settings_for(tmp_path, sandbox_bwrap=MISSING_BWRAP)
    assert settings.sandbox == "jail"
    assert settings.sandbox_allow_unjailed is False
    confinement = await Confinement.open(settings)
    with pytest.raises(AgentsRefused) as refused:
        await run_jail_of(confinement, tmp_path)
    assert str(refused.value) == (
        f"agents cannot be jailed on this host (bubblewrap ({MISSING_BWRAP}) is not installed); "
        "refusing to run them. Allowing unjailed agents is an explicit setting."
    )


async def test_the_degrade_setting_from_the_environment_runs_agents_with_the_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DURSOR_SANDBOX", raising=False)
    monkeypatch.setenv("DURSOR_SANDBOX_ALLOW_UNJAILED", "true")
    confinement = await Confinement.open(settings_for(tmp_path, sandbox_bwrap=MISSING_BWRAP))
    jail, lines = await run_jail_of(confinement, tmp_path)
    assert jail is None
    assert [line.split(":", 1)[0] for line in lines] == ["AGENTS RUN UNJAILED"]


async def test_sandbox_off_runs_agents_unjailed_without_a_word(tmp_path: Path) -> None:
    confinement = await Confinement.open(settings_for(tmp_path, sandbox="off"))
    assert await run_jail_of(confinement, tmp_path) == (None, [])


async def test_a_host_that_cannot_jail_fails_agent_runs_with_the_reason(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, sandbox="jail", sandbox_bwrap=MISSING_BWRAP)
    confinement = await Confinement.open(settings)
    with pytest.raises(AgentsRefused, match="refusing to run them") as refused:
        await run_jail_of(confinement, tmp_path)
    assert f"bubblewrap ({MISSING_BWRAP}) is not installed" in str(refused.value)


async def test_allowed_unjailed_agents_carry_the_warning_in_every_run(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path, sandbox="jail", sandbox_bwrap=MISSING_BWRAP, sandbox_allow_unjailed=True
    )
    confinement = await Confinement.open(settings)
    for _ in range(2):
        jail, lines = await run_jail_of(confinement, tmp_path)
        assert jail is None
        assert len(lines) == 1
        assert lines[0].startswith("AGENTS RUN UNJAILED: ")
        assert MISSING_BWRAP in lines[0]

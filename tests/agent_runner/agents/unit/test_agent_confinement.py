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

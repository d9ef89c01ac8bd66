"""The real agent CLIs for tests, and a look at the processes they run as.

The CLIs come from npm through `scripts/install-node-tools.sh` (pinned versions, a cache
outside git, commands linked into its `bin/`); `cli_path` installs them on first use.
`processes_in` reads /proc/<pid>/{cwd,cmdline,environ} of every process working in a
directory: called while the model stand-in holds a request, it shows exactly what the
agent was started with (its argv and the environment it really got).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from filelock import FileLock

ROOT = Path(__file__).resolve().parents[2]
GUARD_MODULE = "agent_runner.agents.process_guard"


@cache
def node_tools_bin() -> Path:
    """The directory of the installed CLIs (installing them once if needed)."""
    cache_dir = Path(os.environ.get("DURSOR_CACHE") or Path.home() / ".cache" / "dursor")
    tools = Path(os.environ.get("DURSOR_NODE_TOOLS") or cache_dir / "node-tools")
    tools.parent.mkdir(parents=True, exist_ok=True)
    # One npm install into the shared folder at a time (pytest workers, other checkouts).
    with FileLock(tools.with_name(f"{tools.name}.lock")):
        subprocess.run(["bash", str(ROOT / "scripts" / "install-node-tools.sh")], check=True)
    return tools / "bin"


def cli_path(name: str) -> str:
    """The absolute path of one CLI: claude, codex, gemini or azurite-blob."""
    path = node_tools_bin() / name
    if not path.exists():
        raise RuntimeError(
            f"{name} is missing from {path.parent}; run scripts/install-node-tools.sh"
        )
    return str(path)


@dataclass(frozen=True)
class ProcessView:
    """One process as /proc shows it."""

    pid: int
    ppid: int
    argv: list[str]
    env: dict[str, str]

    @property
    def is_cli(self) -> bool:
        """One of the npm-installed CLIs itself (not a tool it spawned, like git or bash)."""
        tools = str(node_tools_bin().parent)
        return any(arg.startswith(tools) for arg in self.argv[:2])

    @property
    def is_guard(self) -> bool:
        """dursor's own process guard (it strips its variables before starting the agent)."""
        return GUARD_MODULE in self.argv


def processes_in(directory: Path) -> list[ProcessView]:
    """Every live process whose working directory is `directory`."""
    target = directory.resolve()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            view = _view(entry, target)
            if view is not None:
                found.append(view)
    return found


def _view(entry: Path, target: Path) -> ProcessView | None:
    try:
        if Path(os.readlink(entry / "cwd")) != target:
            return None
        argv = (entry / "cmdline").read_bytes().split(b"\0")
        environ = (entry / "environ").read_bytes().split(b"\0")
        # The parent pid follows the command name, which ends with the last ')'.
        ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
    except OSError:  # gone meanwhile, or not ours to read
        return None
    env = dict(item.decode(errors="replace").partition("=")[::2] for item in environ if item)
    return ProcessView(int(entry.name), ppid, [a.decode(errors="replace") for a in argv if a], env)


def agent_processes(views: list[ProcessView]) -> list[ProcessView]:
    """The processes started under dursor's guard (the agent and what it spawned).

    The runner's own git commands in a worktree are not among them: their parent is the
    runner, not a guard.
    """
    by_pid = {v.pid: v for v in views}
    guards = {v.pid for v in views if v.is_guard}

    def under_guard(view: ProcessView) -> bool:
        seen: set[int] = set()
        while view.ppid in by_pid and view.ppid not in seen:
            seen.add(view.ppid)
            if view.ppid in guards:
                return True
            view = by_pid[view.ppid]
        return view.ppid in guards

    return [v for v in views if not v.is_guard and under_guard(v)]

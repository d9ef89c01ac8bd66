"""`python -m agent_runner.agents.sandbox`: exit 0 when this host can jail agents, else 1.

The same probe the worker runs at start, for scripts that must decide whether a local
platform allows unjailed agents (scripts/local-config.sh); the reasons go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from agent_runner.agents.sandbox.host import probe
from agent_runner.agents.sandbox.policy import SandboxPolicy


def main(argv: list[str] | None = None) -> int:
    """Probe with the given bubblewrap; 0 when agents can be jailed, else 1 and why."""
    parser = argparse.ArgumentParser(description="Can this host jail agents?")
    parser.add_argument("--bwrap", default="bwrap", help="the bubblewrap program (name or path)")
    bwrap = parser.parse_args(argv).bwrap
    support = asyncio.run(probe(SandboxPolicy(state_dir=Path(".data/sandbox"), bwrap=bwrap)))
    if support.can_jail:
        return 0
    print("; ".join(support.problems) or "bubblewrap is not usable", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

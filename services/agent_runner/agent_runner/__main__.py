"""`python -m agent_runner`: the runner's server."""

from agent_runner.server import main

main()

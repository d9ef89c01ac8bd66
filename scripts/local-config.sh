# Settings of a laptop install (sourced): local repositories (file:// URLs under your
# home directory), a sample command agent, artifacts and workspaces under .data/.
export DURSOR_LOCAL_REPOS_ROOT="${DURSOR_LOCAL_REPOS_ROOT:-$HOME}"
export DURSOR_ARTIFACTS_DIR="${DURSOR_ARTIFACTS_DIR:-$DURSOR_DATA/artifacts}"
export DURSOR_WORKSPACES_DIR="${DURSOR_WORKSPACES_DIR:-$DURSOR_DATA/workspaces}"
# `command` executor templates. `append-note` appends the instruction to NOTES.md: the
# instruction is one argv element ($1 of the script), never parsed by a shell.
if [ -z "${DURSOR_COMMAND_TEMPLATES:-}" ]; then
  DURSOR_COMMAND_TEMPLATES=$(cat <<'JSON'
{"append-note": ["sh", "-c", "printf '%s\\n' \"$1\" >> NOTES.md && echo wrote NOTES.md", "dursor", "{instruction}"]}
JSON
)
  export DURSOR_COMMAND_TEMPLATES
fi
# Outgoing webhooks on a laptop may go to loopback receivers (cloud mode refuses them).
export DURSOR_WEBHOOK_MODE="${DURSOR_WEBHOOK_MODE:-local}"
# Agents run in a jail of their own (README, "Agent sandbox"): the runner's default.
# Where this machine cannot build one (no bubblewrap, not root, no namespaces), the
# local platform runs them unjailed by the explicit setting below, with a warning here
# and in every run's log; set DURSOR_SANDBOX_ALLOW_UNJAILED=false to refuse them instead.
export DURSOR_SANDBOX_STATE_DIR="${DURSOR_SANDBOX_STATE_DIR:-$DURSOR_DATA/sandbox}"
# The agent CLIs (scripts/install-node-tools.sh) live in the cache, outside /usr.
export DURSOR_SANDBOX_READ_ONLY="${DURSOR_SANDBOX_READ_ONLY:-[\"$DURSOR_CACHE/node-tools\"]}"
if [ "${DURSOR_SANDBOX:-jail}" = jail ] && [ -z "${DURSOR_SANDBOX_ALLOW_UNJAILED:-}" ]; then
  if ! unjailed_why="$(uv run --frozen --no-sync python -m agent_runner.agents.sandbox \
      --bwrap "${DURSOR_SANDBOX_BWRAP:-bwrap}" 2>&1)"; then
    export DURSOR_SANDBOX_ALLOW_UNJAILED=true
    log "WARNING: AGENTS RUN UNJAILED on this machine (${unjailed_why}): an agent can read" \
      "and reach whatever this platform can. Install bubblewrap and run as root to jail them."
  fi
  unset unjailed_why
fi

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

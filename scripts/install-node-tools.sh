#!/usr/bin/env bash
# Installs the agent CLIs (Claude Code, Codex, Gemini CLI) and Azurite from npm, at exact
# pinned versions, into a cache outside git: $DURSOR_NODE_TOOLS (default
# $DURSOR_CACHE/node-tools). Idempotent; prints nothing and returns in milliseconds when
# the installed set matches the pins. The four commands are linked into $DURSOR_NODE_TOOLS/bin
# (only those: node_modules/.bin also holds helpers like semver and uuid).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# Node 20 runs all four: Claude Code's package declares node>=22 but ships a native
# binary (claude-code-linux-x64) that Node only launches.
PINS=(
  "@anthropic-ai/claude-code@2.1.332"
  "@openai/codex@0.171.0"
  "@google/gemini-cli@0.61.0"
  "azurite@3.37.0"
)
BINS=(claude codex gemini azurite-blob)

tools="${DURSOR_NODE_TOOLS:-$DURSOR_CACHE/node-tools}"
stamp="$tools/installed.stamp"
wanted="$(printf '%s\n' "${PINS[@]}")"

installed() {
  [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ] || return 1
  local bin
  for bin in "${BINS[@]}"; do [ -x "$tools/bin/$bin" ] || return 1; done
}

installed && exit 0
command -v npm >/dev/null 2>&1 || die "npm is missing; install Debian's nodejs and npm packages (Node >= 20)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node $node_major is too old for the agent CLIs; Node >= 20 is needed"
log "installing agent CLIs and Azurite from npm into $tools (once)"
mkdir -p "$tools"
[ -f "$tools/package.json" ] || echo '{"name": "dursor-node-tools", "private": true}' >"$tools/package.json"
# --save-exact pins the versions in the cache's package.json; the CLIs' postinstall
# scripts (native binaries shipped inside npm packages) must run.
npm install --prefix "$tools" --save-exact --no-audit --no-fund --loglevel=error \
  --foreground-scripts=false "${PINS[@]}" >/dev/null
mkdir -p "$tools/bin"
for bin in "${BINS[@]}"; do
  [ -x "$tools/node_modules/.bin/$bin" ] || die "npm install left no $bin in $tools/node_modules/.bin"
  ln -sfn "../node_modules/.bin/$bin" "$tools/bin/$bin"
done
echo "$wanted" >"$stamp"

#!/usr/bin/env bash
# `scripts/run.sh --detach`: the platform in a session of its own, its output in
# .data/platform.log; returns once the "ready" line is there (exit 1 if it never comes).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$DURSOR_ROOT"
platform_log="$DURSOR_DATA/platform.log"
: >"$platform_log"
DURSOR_SKIP_BOOTSTRAP=1 DURSOR_LOG_FORMAT="${DURSOR_LOG_FORMAT:-json}" setsid bash scripts/run.sh \
  </dev/null >>"$platform_log" 2>&1 &
supervisor=$!
log "starting the platform in the background (log: ${platform_log#"$DURSOR_ROOT/"})"
while kill -0 "$supervisor" 2>/dev/null; do
  if grep -q '\[dursor\].* ready: ' "$platform_log"; then
    log "ready: the gateway is http://127.0.0.1:8080; stop it with scripts/stop.sh or \`dursor down\`"
    exit 0
  fi
  if grep -q '\[dursor\].* not ready: ' "$platform_log"; then break; fi
  sleep 0.2
done
tail -n 20 "$platform_log" >&2
bash scripts/stop.sh
die "the platform did not become ready; see ${platform_log#"$DURSOR_ROOT/"}"

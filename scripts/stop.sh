#!/usr/bin/env bash
# Stop the local platform started by scripts/run.sh (attached or --detach): its supervisor
# stops Sentry, the sidecars and the apps; whatever is left after the grace period is killed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
pid_file="$DURSOR_DATA/platform.pid"
[ -f "$pid_file" ] || { log "the platform is not running (no $pid_file)"; exit 0; }
read -r supervisor group session <"$pid_file"
alive() { kill -0 "$1" 2>/dev/null; }
leftovers() {
  pgrep -g "$group" 2>/dev/null || true
  [ "${session:-0}" != 0 ] && pgrep -s "$session" 2>/dev/null
  return 0
}
if alive "$supervisor"; then
  kill -TERM "$supervisor"
  for _ in $(seq 300); do alive "$supervisor" || break; sleep 0.1; done
  alive "$supervisor" && kill -TERM "$supervisor" 2>/dev/null  # the second signal forces
  for _ in $(seq 50); do alive "$supervisor" || break; sleep 0.1; done
fi
if [ -n "$(leftovers)" ]; then
  log "killing what is left of the platform"
  kill -KILL $(leftovers) 2>/dev/null || true
fi
rm -f "$pid_file"
log "platform stopped"

# Process control of the local platform (sourced by scripts/run.sh, never executed).
# Everything run.sh starts is stopped on Ctrl-C, TERM or exit: the Dapr CLI puts itself,
# the sidecars and the apps in a process group of its own (so the terminal's Ctrl-C never
# reaches them), and on a signal it SIGKILLs only its direct children (`uv`, leaving the
# Python app behind). So the whole group gets SIGTERM (apps drain), then SIGKILL after a
# grace period or a second Ctrl-C; Sentry and any other background job of run.sh too.

# Every one below Linux's ephemeral ports (32768-60999), which any outgoing connection
# on the host may hold for a while.
SENTRY_PORT=3530
PLATFORM_PORTS=(5173 8080 8081 8082 8083 3500 3501 3502 3503 3520 3521 3522 3523 "$SENTRY_PORT")
PLATFORM_PID_FILE="$DURSOR_DATA/platform.pid"
PLATFORM_GRACE_SECONDS="${DURSOR_STOP_GRACE_SECONDS:-15}"
platform_group=""
platform_stopping=0

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

require_free_ports() {
  local port busy=()
  for port in "${PLATFORM_PORTS[@]}"; do port_in_use "$port" && busy+=("$port"); done
  [ ${#busy[@]} -eq 0 ] && return
  die "ports in use: ${busy[*]} (is the platform already running? stop it with scripts/stop.sh or \`dursor down\`)"
}

# Our background jobs (Sentry, the Dapr CLI, the readiness watcher …) and the Dapr group.
platform_pids() {
  jobs -pr
  if [ -n "$platform_group" ]; then pgrep -g "$platform_group" || true; fi
}

signal_platform() {
  local sig="$1" pids
  if [ -n "$platform_group" ]; then kill "-$sig" -- "-$platform_group" 2>/dev/null || true; fi
  pids="$(jobs -pr)"
  if [ -n "$pids" ]; then kill "-$sig" $pids 2>/dev/null || true; fi
}

force_stop() {
  log "second signal: killing the platform now"
  signal_platform KILL
}

stop_platform() {
  [ "$platform_stopping" = 1 ] && return
  platform_stopping=1
  trap force_stop INT TERM
  log "stopping the platform (Ctrl-C again to kill it at once)"
  signal_platform TERM
  local waited=0
  while [ -n "$(platform_pids)" ] && [ "$waited" -lt $((PLATFORM_GRACE_SECONDS * 10)) ]; do
    sleep 0.1 || true
    waited=$((waited + 1))
  done
  if [ -n "$(platform_pids)" ]; then
    log "still running after ${PLATFORM_GRACE_SECONDS}s: killing"
    signal_platform KILL
    sleep 0.2 || true
  fi
  wait 2>/dev/null || true
  rm -f "$PLATFORM_PID_FILE"
  log "stopped"
}

# Start `dapr run -f dapr.yaml`; the CLI makes its pid its process group id.
start_apps() {
  dapr run -f dapr.yaml &
  platform_group=$!
  # The session is ours to sweep only when run.sh leads it (--detach starts it with setsid).
  local session=0
  [ "$(ps -o sid= -p $$ | tr -d ' ')" = "$$" ] && session=$$
  echo "$$ $platform_group $session" >"$PLATFORM_PID_FILE"
}

# One line when every app answers /readyz and every sidecar /v1.0/healthz.
announce_ready() {
  local timeout="${DURSOR_READY_TIMEOUT_SECONDS:-300}" failure
  if failure="$(uv run --frozen --no-sync dursor wait-ready --timeout "$timeout" 2>&1 >/dev/null)"; then
    log "ready: every app and sidecar answers; the gateway is http://127.0.0.1:8080"
  else
    log "not ready: ${failure#dursor: }"
  fi
}

# Until the Dapr CLI exits (a signal's trap runs stop_platform on the way out).
wait_for_apps() {
  local status=0
  wait "$platform_group" || status=$?
  [ "$platform_stopping" = 1 ] || log "the Dapr CLI exited ($status); stopping the rest"
  return "$status"
}

#!/usr/bin/env bash
# Idempotent setup of everything the platform and its tests need on this machine:
# Python deps, daprd + Dapr CLI (built from Go modules), Redis, and through
# scripts/local-database.sh the local secrets, PostgreSQL (passwords only), the schema
# and each service's database login. Fast when warm: each step checks before it works.
# Steps that do not depend on each other run concurrently (see main).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$DURSOR_ROOT"

ensure_uv() {
  command -v uv >/dev/null 2>&1 && return
  log "installing uv $UV_VERSION from PyPI into $DURSOR_UV_HOME"
  # A private venv: works with a system Python that forbids pip installs (PEP 668).
  if ! { python3 -m venv "$DURSOR_UV_HOME" >/dev/null 2>&1 \
         && "$DURSOR_UV_HOME/bin/pip" install --quiet "uv==$UV_VERSION"; }; then
    python3 -m pip install --quiet --user --break-system-packages "uv==$UV_VERSION"
  fi
  command -v uv >/dev/null 2>&1 || die "uv is not on PATH after install"
}

sync_python() {
  log "syncing Python dependencies (uv.lock)"
  uv sync --frozen --quiet
}

real_daprd() { echo "$DURSOR_DAPR_RUNTIME/libexec/daprd"; }

build_daprd() {
  local target stamp ldflags
  target="$(real_daprd)"
  stamp="$(daprd_sources_key)"
  # The directory is named after the same key; the stamp, written last, also catches an
  # interrupted build and a DURSOR_DAPR_RUNTIME set by hand.
  [ -x "$target" ] && [ -x "$(dirname "$target")/sentry" ] \
    && [ "$(cat "$target.stamp" 2>/dev/null)" = "$stamp" ] && return
  mkdir -p "$(dirname "$target")"
  ldflags="-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_RUNTIME_VERSION"
  # daprd with only the platform's components (tools/daprd/components.go; a daprd
  # installed elsewhere has Dapr's whole set and no --check-component-types, so it is
  # not reused) and Sentry, the mTLS CA that gives sidecars the identities access
  # control checks: one build, sharing the module and the compiled packages.
  log "building daprd and Sentry $DAPR_RUNTIME_VERSION from their Go module (once)"
  rm -f "$target" "$target.stamp"  # an older layout linked daprd: never write through it
  (cd tools/daprd && go build -trimpath -ldflags "$ldflags" -o "$(dirname "$target")/" . ./sentry)
  echo "$stamp" >"$target.stamp"
}

build_dapr_cli() {
  local target="$DURSOR_DAPR_CLI_HOME/dapr"
  [ -x "$target" ] && return
  mkdir -p "$(dirname "$target")"
  if command -v dapr >/dev/null 2>&1 && [ "$(command -v dapr)" != "$target" ]; then
    log "reusing installed Dapr CLI at $(command -v dapr)"
    ln -sf "$(command -v dapr)" "$target"
    return
  fi
  log "building the Dapr CLI $DAPR_CLI_VERSION from its Go module"
  # The CLI's main package is its module root, which another module cannot import,
  # so it is built inside a copy of its own module (its replace directives apply there).
  local module src
  module="$(GOFLAGS=-mod=mod go mod download -json "github.com/dapr/cli@v$DAPR_CLI_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  src="$(mktemp -d)"
  cp -r "$module/." "$src" && chmod -R u+w "$src"
  (cd "$src" && GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w -X main.version=$DAPR_CLI_VERSION -X main.apiVersion=1.0" -o "$target" .)
  rm -rf "$src"
}

write_daprd_shim() {
  # The CLI starts <runtime>/.dapr/bin/daprd. This shim pins every listener of the
  # sidecar to loopback (the CLI cannot pass these flags), drops the placement address
  # the CLI always adds (no actors here) and points the sidecar at run.sh's Sentry
  # (DURSOR_SENTRY_PORT) where the CLI can only say localhost:50001.
  local shim="$DURSOR_DAPR_RUNTIME/.dapr/bin/daprd"
  mkdir -p "$(dirname "$shim")"
  cat >"$shim" <<EOF
#!/usr/bin/env bash
args=()
app_id=""
while [ \$# -gt 0 ]; do
  [ "\$1" = "--app-id" ] && app_id="\$2"
  case "\$1" in
    --placement-host-address) shift 2 ;;
    --sentry-address)
      sentry="\$2"
      [ -n "\${DURSOR_SENTRY_PORT:-}" ] && sentry="127.0.0.1:\$DURSOR_SENTRY_PORT"
      args+=("\$1" "\$sentry"); shift 2 ;;
    *) args+=("\$1"); shift ;;
  esac
done
# Each sidecar's API token (app <-> sidecar) comes from the local secret store.
token="\$(python3 -c 'import json,os,sys; print(json.load(open(os.environ["DURSOR_SECRETS_FILE"]))["app-api-token-" + sys.argv[1]])' "\$app_id")"
export DAPR_API_TOKEN="\$token" APP_API_TOKEN="\$token"
exec "$(real_daprd)" "\${args[@]}" \\
  --dapr-listen-addresses 127.0.0.1 \\
  --dapr-internal-grpc-listen-address 127.0.0.1 \\
  --metrics-listen-address 127.0.0.1 \\
  --enable-metrics=false
EOF
  chmod +x "$shim"
}

apt_install() {
  # One apt at a time: steps that install Debian packages may run concurrently.
  mkdir -p "$DURSOR_CACHE"
  flock "$DURSOR_CACHE/apt.lock" sh -c \
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null' \
    apt_install "$@"
}

ensure_redis_server() {
  command -v redis-server >/dev/null 2>&1 && return
  [ "$(id -u)" = 0 ] || die "redis-server is missing; install Debian's redis-server package"
  log "installing redis-server from Debian"
  apt_install redis-server
}

start_redis() {
  if [ -n "$DURSOR_REDIS_HOST_GIVEN" ]; then
    log "using Redis at $DURSOR_REDIS_HOST"
    return
  fi
  ensure_redis_server
  if redis-cli -h 127.0.0.1 -p "$DURSOR_REDIS_PORT" ping >/dev/null 2>&1; then return; fi
  log "starting Redis on 127.0.0.1:$DURSOR_REDIS_PORT"
  mkdir -p "$DURSOR_DATA/redis"
  redis-server 3>&- --bind 127.0.0.1 --port "$DURSOR_REDIS_PORT" --dir "$DURSOR_DATA/redis" \
    --daemonize yes --appendonly yes --save '' --protected-mode yes \
    --logfile "$DURSOR_DATA/redis/redis.log" --pidfile "$DURSOR_DATA/redis/redis.pid"
  for _ in $(seq 50); do
    redis-cli -h 127.0.0.1 -p "$DURSOR_REDIS_PORT" ping >/dev/null 2>&1 && return
    sleep 0.1
  done
  die "Redis did not start; see $DURSOR_DATA/redis/redis.log"
}

ensure_test_tools() {
  # docker-compose validates docker-compose.yml offline (no engine needed).
  command -v docker-compose >/dev/null 2>&1 && return
  [ "$(id -u)" = 0 ] || die "docker-compose is missing; install Debian's docker-compose package"
  log "installing docker-compose from Debian"
  apt_install docker-compose
}

# Each step runs in the background in a process group of its own, its output in
# .data/bootstrap/<step>.log (its log lines also on the terminal), and says when it is done
# and after how long. await_steps fails the bootstrap, showing the log, as soon as any
# running step fails; on exit the steps still running are stopped.
declare -A STEP_PIDS=() STEP_NAMES=()
# A step's terminal lines go to descriptor 3 (this shell's stderr) through log as env.sh
# defines it. A server a step starts must not inherit descriptor 3 (a pipe reading our
# output would never close): commands that are not functions of this file run without
# it, and start_redis closes it for redis-server.
eval "terminal_$(declare -f log)"
step_says() { terminal_log "$@" 2>&3; }

microseconds() { echo "${EPOCHREALTIME/./}"; }

seconds_since() {
  local us=$(($(microseconds) - $1))
  printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
}

start_step() {
  local name="$1"
  shift
  (
    started="$(microseconds)"
    trap 'finish_step "$name" "$started" $?' EXIT
    trap 'exit 143' TERM  # stopped because another step failed: not "done"
    log() { step_says "$name: $*"; echo "$*"; }
    if declare -F "$1" >/dev/null; then "$@"; else "$@" 3>&-; fi
  ) 3>&2 >"$DURSOR_DATA/bootstrap/$name.log" 2>&1 </dev/null &
  STEP_PIDS[$name]=$!
  STEP_NAMES[$!]=$name
}

finish_step() {
  local name="$1" seconds
  seconds="$(seconds_since "$2")"
  echo "$seconds" >"$DURSOR_DATA/bootstrap/$name.seconds"
  if [ "$3" = 0 ]; then step_says "$name done in $seconds s"; fi  # keeps the step's status
}

await_steps() {
  local name pid rc pending
  while :; do
    pending=0
    for name in "$@"; do [ -n "${STEP_PIDS[$name]:-}" ] && pending=1; done
    [ "$pending" = 1 ] || return 0
    rc=0
    wait -n -p pid "${!STEP_NAMES[@]}" || rc=$?
    name="${STEP_NAMES[$pid]}"
    unset "STEP_NAMES[$pid]" "STEP_PIDS[$name]"
    [ "$rc" = 0 ] || step_failed "$name" "$rc"
  done
}

step_failed() {
  tail -n 60 "$DURSOR_DATA/bootstrap/$1.log" >&2
  die "$1 failed (exit $2) after $(cat "$DURSOR_DATA/bootstrap/$1.seconds") s; its log above (.data/bootstrap/$1.log)"
}

stop_steps() {
  local pid
  for pid in "${!STEP_NAMES[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}

time_summary() {
  # Where the time went, slowest step first.
  local file parts=()
  for file in "$DURSOR_DATA"/bootstrap/*.seconds; do
    parts+=("$(cat "$file") $(basename "$file" .seconds)")
  done
  printf '%s\n' "${parts[@]}" | sort -rn | awk '{printf "%s%s %s s", (NR > 1 ? ", " : ""), $2, $1}'
}

test_tools() {
  ensure_test_tools
  ensure_chromium
  ensure_bubblewrap
  bash scripts/compose-env.sh  # docker-compose.yml's per-app tokens (.env)
}

python_env() {
  ensure_uv
  sync_python
}

ensure_chromium() {
  # The web UI's browser tests drive Debian's chromium (Playwright cannot download its own).
  [ -x /usr/bin/chromium ] && return
  [ "$(id -u)" = 0 ] || die "chromium is missing; install Debian's chromium package"
  log "installing chromium from Debian (web UI browser tests)"
  apt_install chromium
}

ensure_bubblewrap() {
  # The agent jail's tests (its attacks among them) build real jails; without bubblewrap
  # they skip, and the suite would pass without proving the jail holds.
  command -v bwrap >/dev/null 2>&1 && return
  [ "$(id -u)" = 0 ] || { log "bubblewrap is missing: the agent jail's tests will skip"; return; }
  log "installing bubblewrap from Debian (the agent jail's tests)"
  apt_install bubblewrap
}

install_web_deps() {
  # npm ci from web/package-lock.json, once per lockfile and Node version (npm's cache is shared).
  local stamp
  stamp="$(cat web/package-lock.json | sha256sum | cut -c1-16)-$(node --version)"
  [ "$(cat web/node_modules/.dursor-stamp 2>/dev/null)" = "$stamp" ] && return
  log "installing the web UI's npm packages (web/package-lock.json)"
  (cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error \
    --cache "$DURSOR_CACHE/npm")
  echo "$stamp" >web/node_modules/.dursor-stamp
}

web_sources_stamp() {
  find web/src web/index.html web/vite.config.ts web/tsconfig.json web/package-lock.json \
    -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
}

build_web() {
  # web/dist, rebuilt only when the web UI's sources changed.
  local stamp
  stamp="$(web_sources_stamp)"
  [ -f web/dist/index.html ] && [ "$(cat web/dist/.build-stamp 2>/dev/null)" = "$stamp" ] && return
  log "building the web UI (web/dist)"
  (cd web && node_modules/.bin/vite build --logLevel warn)
  echo "$stamp" >web/dist/.build-stamp
}

web_ui() {
  install_web_deps
  build_web
}

main() {
  local with_test_tools=0 started
  [ "${1:-}" = "--with-test-tools" ] && with_test_tools=1
  started="$(microseconds)"
  mkdir -p "$DURSOR_DATA/bootstrap"
  rm -f "$DURSOR_DATA"/bootstrap/*.seconds
  set -m  # every step in a process group of its own, so a failure can stop the others
  trap stop_steps EXIT
  trap 'exit 130' INT TERM
  write_daprd_shim
  start_step python python_env
  start_step node-tools bash scripts/install-node-tools.sh
  start_step daprd build_daprd
  start_step dapr-cli build_dapr_cli
  start_step redis start_redis
  start_step web web_ui
  [ "$with_test_tools" = 1 ] && start_step test-tools test_tools
  await_steps python
  start_step database bash scripts/local-database.sh
  await_steps "${STEP_NAMES[@]}"
  log "bootstrap done in $(seconds_since "$started") s: $(time_summary)"
}

# Sourced (tests/project/unit/test_bootstrap_steps.py), it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi

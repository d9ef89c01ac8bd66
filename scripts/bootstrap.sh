#!/usr/bin/env bash
# Idempotent setup of everything the platform and its tests need on this machine:
# Python deps, daprd + Dapr CLI (built from Go modules), Redis, and through
# scripts/local-database.sh the local secrets, PostgreSQL (passwords only), the schema
# and each service's database login. Fast when warm: each step checks before it works.
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

daprd_version_of() { "$1" --version 2>/dev/null | head -n1 || true; }

find_installed_daprd() {
  local candidate
  for candidate in "$(command -v daprd 2>/dev/null || true)" "$HOME/.dapr/bin/daprd"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    [ "$(daprd_version_of "$candidate")" = "$DAPR_RUNTIME_VERSION" ] && { echo "$candidate"; return; }
  done
}

wrapper_stamp() {
  cat tools/daprd/go.mod tools/daprd/go.sum tools/daprd/main.go tools/daprd/sentry/main.go \
    | sha256sum | cut -c1-16
}

build_daprd() {
  local target stamp ldflags installed
  target="$(real_daprd)"
  stamp="$(wrapper_stamp)"
  # Rebuilt when the wrapper module changes, not only when the version does.
  [ -x "$target" ] && [ -x "$(dirname "$target")/sentry" ] \
    && [ "$(cat "$target.stamp" 2>/dev/null)" = "$stamp" ] && return
  mkdir -p "$(dirname "$target")"
  ldflags="-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_RUNTIME_VERSION"
  installed="$(find_installed_daprd)"
  if [ -n "$installed" ] && [ "${DURSOR_REUSE_DAPRD:-1}" = 1 ]; then
    log "reusing installed daprd $DAPR_RUNTIME_VERSION at $installed (it needs the sqlite name resolver)"
    ln -sf "$installed" "$target"
  else
    log "building daprd $DAPR_RUNTIME_VERSION from its Go module (a few minutes, once)"
    local started=$SECONDS
    (cd tools/daprd && go build -tags stablecomponents -trimpath -ldflags "$ldflags" -o "$target" .)
    log "daprd built in $((SECONDS - started)) s"
  fi
  # Sentry (the mTLS CA that gives sidecars the identities access control checks).
  (cd tools/daprd && go build -trimpath -ldflags "$ldflags" -o "$(dirname "$target")/sentry" ./sentry)
  echo "$stamp" >"$target.stamp"
}

build_dapr_cli() {
  local target="$DURSOR_DAPR_RUNTIME/bin/dapr"
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
  # sidecar to loopback (the CLI cannot pass these flags) and drops the placement
  # address the CLI always adds (no actors here).
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

ensure_redis_server() {
  command -v redis-server >/dev/null 2>&1 && return
  [ "$(id -u)" = 0 ] || die "redis-server is missing; install Debian's redis-server package"
  log "installing redis-server from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
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
  redis-server --bind 127.0.0.1 --port "$DURSOR_REDIS_PORT" --dir "$DURSOR_DATA/redis" \
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
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
}

ensure_chromium() {
  # The web UI's browser tests drive Debian's chromium (Playwright cannot download its own).
  [ -x /usr/bin/chromium ] && return
  [ "$(id -u)" = 0 ] || die "chromium is missing; install Debian's chromium package"
  log "installing chromium from Debian (web UI browser tests)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
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

main() {
  local with_test_tools=0
  [ "${1:-}" = "--with-test-tools" ] && with_test_tools=1
  ensure_uv
  sync_python
  bash scripts/install-node-tools.sh
  install_web_deps
  build_web
  mkdir -p "$DURSOR_DATA"
  build_daprd &
  local daprd_job=$!
  build_dapr_cli
  wait "$daprd_job"
  write_daprd_shim
  start_redis
  bash scripts/local-database.sh
  if [ "$with_test_tools" = 1 ]; then
    ensure_test_tools
    ensure_chromium
    bash scripts/compose-env.sh  # docker-compose.yml's per-app tokens (.env)
  fi
  log "bootstrap done"
}

main "$@"

# Shared settings of the local platform, sourced by every script (never executed).
# Everything binds to 127.0.0.1; data lives under .data/ (git-ignored), tools under a
# cache outside git.

DURSOR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DURSOR_ROOT

# One pinned Dapr release for the sidecar, and the newest Dapr CLI the Go module
# proxy serves here (the CLI only launches processes; see README "Dapr").
export DAPR_RUNTIME_VERSION="${DAPR_RUNTIME_VERSION:-1.18.1}"
export DAPR_CLI_VERSION="${DAPR_CLI_VERSION:-1.12.0}"
export UV_VERSION="${UV_VERSION:-0.13.9}"

export DURSOR_CACHE="${DURSOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dursor}"
export DURSOR_DATA="${DURSOR_DATA:-$DURSOR_ROOT/.data}"
# daprd and Sentry as tools/daprd builds them (its component set): one directory per
# content of that module, so checkouts with different sets on one machine (or an older
# cache) never rebuild or replace each other's. The Dapr CLI looks for
# $DAPR_RUNTIME_PATH/.dapr/bin/daprd; it does not depend on the set, so it lives apart.
daprd_sources_key() {
  find "$DURSOR_ROOT/tools/daprd" \( -name '*.go' ! -name '*_test.go' \) -o -name 'go.*' \
    | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16
}
export DURSOR_DAPR_RUNTIME="${DURSOR_DAPR_RUNTIME:-$DURSOR_CACHE/dapr-$DAPR_RUNTIME_VERSION-$(daprd_sources_key)}"
export DAPR_RUNTIME_PATH="$DURSOR_DAPR_RUNTIME"
export DURSOR_DAPR_CLI_HOME="${DURSOR_DAPR_CLI_HOME:-$DURSOR_CACHE/dapr-cli-$DAPR_CLI_VERSION}"

export DURSOR_PG_PORT="${DURSOR_PG_PORT:-54329}"
export DURSOR_REDIS_PORT="${DURSOR_REDIS_PORT:-63799}"

# Given URLs win: CI and developers can point at their own Postgres and Redis. Only the
# first sourcing decides (nested scripts see our own defaults, which are not "given").
if [ -z "${DURSOR_ENV_SOURCED:-}" ]; then
  export DURSOR_DATABASE_URL_GIVEN="${DURSOR_DATABASE_URL:-}"
  export DURSOR_REDIS_HOST_GIVEN="${DURSOR_REDIS_HOST:-}"
  export DURSOR_ENV_SOURCED=1
fi
export DURSOR_DATABASE_URL="${DURSOR_DATABASE_URL:-postgresql+asyncpg://dursor@127.0.0.1:$DURSOR_PG_PORT/dursor}"
# The local server takes passwords only: the schema owner's (DURSOR_DATABASE_URL above)
# is in the libpq password file, per user, so every checkout on this machine (and psql)
# can reach a server another checkout started. Services never see it: each has its own.
if [ -z "$DURSOR_DATABASE_URL_GIVEN" ]; then
  export PGPASSFILE="${PGPASSFILE:-${XDG_CONFIG_HOME:-$HOME/.config}/dursor/pgpass}"
fi
export DURSOR_REDIS_HOST="${DURSOR_REDIS_HOST:-127.0.0.1:$DURSOR_REDIS_PORT}"
export DURSOR_REDIS_PASSWORD="${DURSOR_REDIS_PASSWORD:-}"
export DURSOR_REDIS_DB="${DURSOR_REDIS_DB:-0}"
export DURSOR_SECRETS_FILE="${DURSOR_SECRETS_FILE:-$DURSOR_DATA/secrets.json}"

# Sidecars register 127.0.0.1 in the sqlite name resolver instead of the host's IP.
export DAPR_HOST_IP=127.0.0.1

export DURSOR_UV_HOME="${DURSOR_UV_HOME:-$DURSOR_CACHE/uv-$UV_VERSION}"
export PATH="$DURSOR_CACHE/node-tools/bin:$DURSOR_DAPR_CLI_HOME:$DURSOR_UV_HOME/bin:$HOME/.local/bin:$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# Use the machine's CA store (package registries may sit behind a proxy with its own CA).
export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-1}"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export SSL_CERT_FILE="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
  export NODE_EXTRA_CA_CERTS="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
  export PIP_CERT="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
fi

# Colour only on a terminal: logs that go to a file or a CI job stay plain.
log() { if [ -t 2 ]; then printf '\033[1;34m[dursor]\033[0m %s\n' "$*" >&2; else printf '[dursor] %s\n' "$*" >&2; fi; }
die() { if [ -t 2 ]; then printf '\033[1;31m[dursor]\033[0m %s\n' "$*" >&2; else printf '[dursor] %s\n' "$*" >&2; fi; exit 1; }

#!/usr/bin/env bash
# Deploy dursor to Azure in order: infrastructure and Key Vault secrets, container
# images (built by ACR from this repository), schema migration and database logins, then
# the apps and the Front Door routes, and the approval of Front Door's Private Link
# connection to the environment. Idempotent: run it again to roll out a new commit.
#
#   infra/scripts/deploy.sh dev|prod [options]
#     -g, --resource-group NAME   default rg-dursor-<env>
#     -l, --location REGION       default japaneast (the seed's primary region)
#     -t, --image-tag TAG         default: the current git commit
#         --skip-images           the images of TAG are already in the registry
#         --rotate SECRET         write a new value of SECRET (repeatable; see README)
#
# Optional environment: GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY_FILE, GITHUB_WEBHOOK_SECRET
# (used when Key Vault lacks them), DURSOR_ALERT_EMAIL, DURSOR_SECRETS_OFFICER_ID,
# DURSOR_AUTH_AUDIENCE.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# image name : Dockerfile : build context
IMAGES=(events-gateway:services/events_gateway/Dockerfile:. run-api:services/run_api/Dockerfile:.
  agent-runner:services/agent_runner/Dockerfile:. auth:services/auth/Dockerfile:.
  web:web/Dockerfile:web)
# The Key Vault secrets Azure apps read (infra/modules/keyvault.bicep applicationSecretNames).
# Databases use Entra sign-in and Container Apps gives sidecars their tokens: no secret.
AZURE_SECRETS=(encryption-keys jwt-signing-keys admin-password github-webhook-secret
  github-app-id github-app-private-key)
# Secrets a value can be generated for; the key rings must be rotated by merging (README).
GENERATED=(admin-password github-webhook-secret encryption-keys jwt-signing-keys)
NOT_ROTATABLE=(encryption-keys jwt-signing-keys)
# Per-secret role assignments need every secret to exist: a GitHub App secret not given
# yet is created with this value (auth then reports the App as not configured).
NOT_CONFIGURED="not-configured"
APP_API_VERSION="2026-07-01"

log() { printf '\033[1;34m[deploy]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[deploy]\033[0m %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
contains() { local item="$1"; shift; printf '%s\n' "$@" | grep -qx -- "$item"; }

parse_args() {
  [ $# -ge 1 ] || usage
  ENVIRONMENT="$1"; shift
  case "$ENVIRONMENT" in dev|prod) ;; *) usage ;; esac
  RESOURCE_GROUP="rg-dursor-$ENVIRONMENT"
  LOCATION="japaneast"
  IMAGE_TAG="$(git -C "$ROOT" rev-parse --short=12 HEAD)"
  SKIP_IMAGES=0
  ROTATE=()
  while [ $# -gt 0 ]; do
    case "$1" in
      -g|--resource-group) RESOURCE_GROUP="$2"; shift 2 ;;
      -l|--location) LOCATION="$2"; shift 2 ;;
      -t|--image-tag) IMAGE_TAG="$2"; shift 2 ;;
      --skip-images) SKIP_IMAGES=1; shift ;;
      --rotate) ROTATE+=("$2"); shift 2 ;;
      *) usage ;;
    esac
  done
  for name in "${ROTATE[@]}"; do
    contains "$name" "${NOT_ROTATABLE[@]}" && die "$name is a key ring: rotate it by adding a key (infra/README.md)"
  done
  return 0
}

require_tools() {
  command -v az >/dev/null || die "the Azure CLI (az) is required"
  command -v uv >/dev/null || die "uv is required (it runs the secret generators of dursor_kit)"
  az account show --query id -o tsv >/dev/null || die "run 'az login' first"
}

vault_id() {
  az keyvault list -g "$RESOURCE_GROUP" --query "[?tags.application=='dursor'].id | [0]" -o tsv 2>/dev/null || true
}

existing_secret_names() {
  # Control-plane listing: names only, works while the vault is private.
  local id
  id="$(vault_id)"
  [ -n "$id" ] || return 0
  az rest --method get --url "${id}/secrets?api-version=2023-07-01" --query "value[].name" -o tsv
}

required_secret_names() {
  printf '%s\n' "${AZURE_SECRETS[@]}"
}

generate_secrets() {
  # JSON object name -> fresh value, from the same generators the laptop bootstrap uses.
  (cd "$ROOT" && uv run --frozen --quiet python - "$@" <<'PY'
import json
import sys

from dursor_kit.local_secrets import GENERATORS

print(json.dumps({name: GENERATORS[name]() for name in sys.argv[1:]}))
PY
  )
}

github_app_secrets() {
  # JSON object of the GitHub App secrets given in the environment, for the names asked;
  # they win over generated values (the webhook secret must match the App's settings).
  local names=("$@") json="{}"
  if contains github-app-id "${names[@]}" && [ -n "${GITHUB_APP_ID:-}" ]; then
    json="$(jq -c --arg v "$GITHUB_APP_ID" '. + {"github-app-id": $v}' <<<"$json")"
  fi
  if contains github-app-private-key "${names[@]}" && [ -n "${GITHUB_APP_PRIVATE_KEY_FILE:-}" ]; then
    json="$(jq -c --rawfile v "$GITHUB_APP_PRIVATE_KEY_FILE" '. + {"github-app-private-key": $v}' <<<"$json")"
  fi
  if contains github-webhook-secret "${names[@]}" && [ -n "${GITHUB_WEBHOOK_SECRET:-}" ]; then
    json="$(jq -c --arg v "$GITHUB_WEBHOOK_SECRET" '. + {"github-webhook-secret": $v}' <<<"$json")"
  fi
  printf '%s' "$json"
}

prepare_secrets() {
  # Only secrets that do not exist yet (or are rotated) are written: never overwrite a key.
  local existing missing=() generated=() name
  existing="$(existing_secret_names)"
  while read -r name; do
    if ! grep -qx -- "$name" <<<"$existing" || contains "$name" "${ROTATE[@]}"; then
      missing+=("$name")
    fi
  done < <(required_secret_names)
  for name in "${missing[@]}"; do
    contains "$name" "${GENERATED[@]}" && generated+=("$name")
  done
  DURSOR_SEED_SECRETS="$(jq -c -s '.[0] * .[1]' \
    <(generate_secrets "${generated[@]}") <(github_app_secrets "${missing[@]}"))"
  for name in github-app-id github-app-private-key; do
    if contains "$name" "${missing[@]}" && ! jq -e --arg n "$name" 'has($n)' <<<"$DURSOR_SEED_SECRETS" >/dev/null; then
      log "warning: no $name given; set GITHUB_APP_ID / GITHUB_APP_PRIVATE_KEY_FILE and --rotate $name (README)"
      DURSOR_SEED_SECRETS="$(jq -c --arg n "$name" --arg v "$NOT_CONFIGURED" '. + {($n): $v}' <<<"$DURSOR_SEED_SECRETS")"
    fi
  done
  export DURSOR_SEED_SECRETS
  log "secrets to write: $(jq -r 'keys | join(", ")' <<<"$DURSOR_SEED_SECRETS")"
}

forget_secrets() {
  DURSOR_SEED_SECRETS="{}"
}

deploy_stage() {
  local stage="$1"
  log "deploying stage '$stage' of $ENVIRONMENT to $RESOURCE_GROUP (images: $IMAGE_TAG)"
  DURSOR_DEPLOY_STAGE="$stage" DURSOR_IMAGE_TAG="$IMAGE_TAG" \
    az deployment group create \
      --resource-group "$RESOURCE_GROUP" \
      --name "dursor-$stage" \
      --parameters "$ROOT/infra/parameters/$ENVIRONMENT.bicepparam" \
      --output none
}

output_of() {
  az deployment group show -g "$RESOURCE_GROUP" -n "dursor-$1" --query "properties.outputs.$2.value" -o tsv
}

build_images() {
  local registry entry image dockerfile context
  registry="$(output_of foundation registryName)"
  for entry in "${IMAGES[@]}"; do
    IFS=: read -r image dockerfile context <<<"$entry"
    log "building dursor/$image:$IMAGE_TAG in $registry"
    az acr build --registry "$registry" --image "dursor/$image:$IMAGE_TAG" \
      --file "$ROOT/$dockerfile" "$ROOT/$context" --output none
  done
}

approve_front_door_link() {
  # Front Door's managed private endpoints to the environment wait for approval.
  local environment pending id
  environment="$(output_of apps containerAppsEnvironmentId)"
  pending="$(az rest --method get \
    --url "${environment}/privateEndpointConnections?api-version=$APP_API_VERSION" \
    --query "value[?properties.privateLinkServiceConnectionState.status=='Pending'].id" -o tsv)"
  for id in $pending; do
    log "approving Front Door's Private Link connection $(basename "$id")"
    az rest --method put --url "${id}?api-version=$APP_API_VERSION" --output none --body \
      '{"properties": {"privateLinkServiceConnectionState": {"status": "Approved", "description": "dursor Front Door"}}}'
  done
}

main() {
  parse_args "$@"
  require_tools
  command -v jq >/dev/null || die "jq is required"
  az group create --name "$RESOURCE_GROUP" --location "$LOCATION" --output none
  prepare_secrets
  deploy_stage foundation
  forget_secrets
  [ "$SKIP_IMAGES" = 1 ] || build_images
  deploy_stage migrate
  "$ROOT/infra/scripts/migrate-db.sh" azure "$RESOURCE_GROUP" "$(output_of migrate migrateJobName)"
  deploy_stage apps
  approve_front_door_link
  log "done: https://$(output_of apps frontDoorHostName)/ (API: /v1/me; egress address $(output_of apps egressAddress))"
}

main "$@"

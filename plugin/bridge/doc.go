// Package bridge makes the proxy-wasm-go-sdk v0.24.0 public API work when the
// plugin is compiled with the standard Go toolchain (GOOS=wasip1, c-shared).
//
// v0.24.0 wires its ABI only under TinyGo: under standard Go its hostcalls go
// to a mock host and no proxy_on_* function is exported, so Envoy would refuse
// the module. This package, compiled only for wasip1 && !tinygo, does two
// things (see RATIONALE.md, "The bridge"):
//
//   - exports.go: exports the proxy-wasm ABI 0.2.1 callbacks with
//     //go:wasmexport and forwards them to the SDK's internal callbacks, pulled
//     in with //go:linkname;
//   - host.go: registers a host with the SDK (through its RegisterMockWasmHost
//     hook) whose methods call //go:wasmimport env.proxy_* functions.
//
// Plugin code never calls this package; importing it for its side effects is
// enough:
//
//	import _ "github.com/firmly/session-transfer-filter/plugin/bridge"
//
// On any other platform the package is empty, so native builds, vet and
// proxytest-based tests are unaffected.
package bridge

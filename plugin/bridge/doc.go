// Package bridge makes the proxy-wasm-go-sdk v0.24.0 public API work when the
// plugin is compiled with the standard Go toolchain (GOOS=wasip1, c-shared).
//
// v0.24.0 wires its ABI only under TinyGo: under standard Go its hostcalls go
// to a mock host and no proxy_on_* function is exported, so Envoy would refuse
// the module. This package, compiled only for wasip1 && !tinygo, does three
// things (see RATIONALE.md, "The bridge"):
//
//   - exports.go: exports the proxy-wasm ABI 0.2.1 callbacks with
//     //go:wasmexport and dispatches them itself, to the plugin's
//     types.PluginContext and types.HttpContext kept in slot tables indexed
//     by context id (slots.go), instead of the SDK's per-stream maps;
//   - host.go: registers a host with the SDK (through its RegisterMockWasmHost
//     hook) whose methods call //go:wasmimport env.proxy_* functions;
//   - a few functions plugin code calls instead of the SDK's: SetVMContext
//     and DispatchHttpCall (the SDK's touch its context state),
//     SendHttpResponse (with response-code details), GetHttpRequestHeaderMap
//     and PeekHttpRequestHeader (the header map and a header as the host
//     serialised them, in a reused buffer), SetFilterState (no copies).
//
// Plugin code imports the package for those functions; everything else it
// calls is the SDK's public API.
//
// On any other platform those functions fall back to the SDK, so native
// builds, vet and proxytest-based tests run the same plugin code.
package bridge

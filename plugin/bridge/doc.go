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
//   - sdkstate.go: reads the SDK's internal state, so proxywasm.SetVMContext
//     and proxywasm.DispatchHttpCall keep working with that dispatch;
//   - a few functions plugin code calls instead of the SDK's:
//     SendHttpResponse (with response-code details), GetHttpRequestHeaderMap
//     and the Peek* functions (the header map, a header, a body, as the host
//     wrote them into a reused buffer), SetFilterState (no copies).
//
// Plugin code imports the package for those functions; everything else it
// calls is the SDK's public API.
//
// On any other platform those functions fall back to the SDK, so native
// builds, vet and proxytest-based tests run the same plugin code.
package bridge

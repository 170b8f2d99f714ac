//go:build wasip1 && !tinygo

package bridge

import (
	_ "unsafe" // for go:linkname

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	// The SDK's internal package must be linked for the names below to resolve.
	_ "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
)

// The SDK's callbacks. Their signatures use only public types, so they can be
// declared here and resolved by name at link time.

//go:linkname sdkOnContextCreate github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnContextCreate
func sdkOnContextCreate(contextID uint32, pluginContextID uint32)

//go:linkname sdkOnLog github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnLog
func sdkOnLog(contextID uint32)

//go:linkname sdkOnDone github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnDone
func sdkOnDone(contextID uint32) bool

//go:linkname sdkOnDelete github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnDelete
func sdkOnDelete(contextID uint32)

//go:linkname sdkOnVMStart github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnVMStart
func sdkOnVMStart(unused uint32, vmConfigurationSize int) types.OnVMStartStatus

//go:linkname sdkOnConfigure github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnConfigure
func sdkOnConfigure(pluginContextID uint32, pluginConfigurationSize int) types.OnPluginStartStatus

//go:linkname sdkOnTick github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnTick
func sdkOnTick(pluginContextID uint32)

//go:linkname sdkOnQueueReady github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnQueueReady
func sdkOnQueueReady(contextID, queueID uint32)

//go:linkname sdkOnNewConnection github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnNewConnection
func sdkOnNewConnection(contextID uint32) types.Action

//go:linkname sdkOnDownstreamData github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnDownstreamData
func sdkOnDownstreamData(contextID uint32, dataSize int, endOfStream bool) types.Action

//go:linkname sdkOnDownstreamConnectionClose github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnDownstreamConnectionClose
func sdkOnDownstreamConnectionClose(contextID uint32, peerType types.PeerType)

//go:linkname sdkOnUpstreamData github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnUpstreamData
func sdkOnUpstreamData(contextID uint32, dataSize int, endOfStream bool) types.Action

//go:linkname sdkOnUpstreamConnectionClose github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnUpstreamConnectionClose
func sdkOnUpstreamConnectionClose(contextID uint32, peerType types.PeerType)

//go:linkname sdkOnRequestHeaders github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnRequestHeaders
func sdkOnRequestHeaders(contextID uint32, numHeaders int, endOfStream bool) types.Action

//go:linkname sdkOnRequestBody github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnRequestBody
func sdkOnRequestBody(contextID uint32, bodySize int, endOfStream bool) types.Action

//go:linkname sdkOnRequestTrailers github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnRequestTrailers
func sdkOnRequestTrailers(contextID uint32, numTrailers int) types.Action

//go:linkname sdkOnResponseHeaders github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnResponseHeaders
func sdkOnResponseHeaders(contextID uint32, numHeaders int, endOfStream bool) types.Action

//go:linkname sdkOnResponseBody github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnResponseBody
func sdkOnResponseBody(contextID uint32, bodySize int, endOfStream bool) types.Action

//go:linkname sdkOnResponseTrailers github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnResponseTrailers
func sdkOnResponseTrailers(contextID uint32, numTrailers int) types.Action

//go:linkname sdkOnHttpCallResponse github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.proxyOnHttpCallResponse
func sdkOnHttpCallResponse(pluginContextID, calloutID uint32, numHeaders, bodySize, numTrailers int)

// The ABI marker. The SDK itself declares 0.2.0; it uses nothing of 0.2.1
// that 0.2.0 lacks, and Envoy accepts both.
//
//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion() {}

//go:wasmexport proxy_on_memory_allocate
func onMemoryAllocate(size uint32) *byte {
	return allocate(size)
}

//go:wasmexport proxy_on_context_create
func onContextCreate(contextID, parentID uint32) { sdkOnContextCreate(contextID, parentID) }

//go:wasmexport proxy_on_log
func onLog(contextID uint32) { sdkOnLog(contextID) }

//go:wasmexport proxy_on_done
func onDone(contextID uint32) bool { return sdkOnDone(contextID) }

//go:wasmexport proxy_on_delete
func onDelete(contextID uint32) { sdkOnDelete(contextID) }

//go:wasmexport proxy_on_vm_start
func onVMStart(rootID, vmConfigSize uint32) bool {
	return bool(sdkOnVMStart(rootID, int(vmConfigSize)))
}

//go:wasmexport proxy_on_configure
func onConfigure(rootID, pluginConfigSize uint32) bool {
	return bool(sdkOnConfigure(rootID, int(pluginConfigSize)))
}

//go:wasmexport proxy_on_tick
func onTick(rootID uint32) { sdkOnTick(rootID) }

//go:wasmexport proxy_on_queue_ready
func onQueueReady(rootID, queueID uint32) { sdkOnQueueReady(rootID, queueID) }

//go:wasmexport proxy_on_new_connection
func onNewConnection(contextID uint32) uint32 { return uint32(sdkOnNewConnection(contextID)) }

//go:wasmexport proxy_on_downstream_data
func onDownstreamData(contextID, size uint32, eos bool) uint32 {
	return uint32(sdkOnDownstreamData(contextID, int(size), eos))
}

//go:wasmexport proxy_on_downstream_connection_close
func onDownstreamConnectionClose(contextID, peer uint32) {
	sdkOnDownstreamConnectionClose(contextID, types.PeerType(peer))
}

//go:wasmexport proxy_on_upstream_data
func onUpstreamData(contextID, size uint32, eos bool) uint32 {
	return uint32(sdkOnUpstreamData(contextID, int(size), eos))
}

//go:wasmexport proxy_on_upstream_connection_close
func onUpstreamConnectionClose(contextID, peer uint32) {
	sdkOnUpstreamConnectionClose(contextID, types.PeerType(peer))
}

//go:wasmexport proxy_on_request_headers
func onRequestHeaders(contextID, numHeaders uint32, eos bool) uint32 {
	return uint32(sdkOnRequestHeaders(contextID, int(numHeaders), eos))
}

//go:wasmexport proxy_on_request_body
func onRequestBody(contextID, size uint32, eos bool) uint32 {
	return uint32(sdkOnRequestBody(contextID, int(size), eos))
}

//go:wasmexport proxy_on_request_trailers
func onRequestTrailers(contextID, numTrailers uint32) uint32 {
	return uint32(sdkOnRequestTrailers(contextID, int(numTrailers)))
}

//go:wasmexport proxy_on_response_headers
func onResponseHeaders(contextID, numHeaders uint32, eos bool) uint32 {
	return uint32(sdkOnResponseHeaders(contextID, int(numHeaders), eos))
}

//go:wasmexport proxy_on_response_body
func onResponseBody(contextID, size uint32, eos bool) uint32 {
	return uint32(sdkOnResponseBody(contextID, int(size), eos))
}

//go:wasmexport proxy_on_response_trailers
func onResponseTrailers(contextID, numTrailers uint32) uint32 {
	return uint32(sdkOnResponseTrailers(contextID, int(numTrailers)))
}

//go:wasmexport proxy_on_http_call_response
func onHttpCallResponse(rootID, calloutID, numHeaders, bodySize, numTrailers uint32) {
	sdkOnHttpCallResponse(rootID, calloutID, int(numHeaders), int(bodySize), int(numTrailers))
}

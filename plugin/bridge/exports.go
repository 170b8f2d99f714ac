//go:build wasip1 && !tinygo

package bridge

import (
	_ "unsafe" // for go:linkname in host.go

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	// The SDK's internal package must be linked for host.go's names to resolve.
	_ "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
)

// The bridge dispatches the ABI callbacks itself: each export looks its
// context up in a slot table indexed by context id and calls the plugin's
// types.PluginContext / HttpContext directly. The SDK v0.24.0 kept them in
// maps created and deleted per stream, 1.1–1.7 µs of a pass-through's
// module time under V8 and 2.4–5.3 µs under wazero (RATIONALE.md, "The
// bridge"). Plugin code still implements the SDK's types and calls its
// API, SetVMContext and DispatchHttpCall included (sdkstate.go).

// stream is an HTTP or a TCP context (one table for both: each generic
// instance of slots is code in the module) and the root context it was
// created under.
type stream struct {
	ctx  types.HttpContext // nil for a TCP context
	tcp  types.TcpContext
	root uint32
}

var (
	roots   slots[types.PluginContext]
	streams slots[stream]
	// active is the context of the callback running now: a callout it
	// dispatches is answered to it.
	active uint32
)

// rootOf is the root context id a context belongs to (a root is its own).
func rootOf(id uint32) uint32 {
	if s, ok := streams.get(id); ok {
		return s.root
	}
	return id
}

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
func onContextCreate(contextID, parentID uint32) {
	if parentID == 0 {
		roots.put(contextID, vmContext().NewPluginContext(contextID))
		return
	}
	root, ok := roots.get(parentID)
	if !ok {
		panic("proxy_on_context_create: unknown root context")
	}
	if h := root.NewHttpContext(contextID); h != nil {
		streams.put(contextID, stream{ctx: h, root: parentID})
	} else if t := root.NewTcpContext(contextID); t != nil {
		streams.put(contextID, stream{tcp: t, root: parentID})
	} else {
		panic("proxy_on_context_create: the plugin context made neither an HTTP nor a TCP context")
	}
}

//go:wasmexport proxy_on_log
func onLog(contextID uint32) {
	active = contextID
	if s, ok := streams.get(contextID); ok && s.ctx != nil {
		s.ctx.OnHttpStreamDone()
	} else if ok {
		s.tcp.OnStreamDone()
	}
	collectCallouts()
}

//go:wasmexport proxy_on_done
func onDone(contextID uint32) bool {
	if r, ok := roots.get(contextID); ok {
		active = contextID
		done := r.OnPluginDone()
		collectCallouts()
		return done
	}
	return true
}

//go:wasmexport proxy_on_delete
func onDelete(contextID uint32) {
	if _, ok := streams.del(contextID); ok {
		return
	}
	roots.del(contextID)
}

//go:wasmexport proxy_on_vm_start
func onVMStart(rootID, vmConfigSize uint32) bool {
	return bool(vmContext().OnVMStart(int(vmConfigSize)))
}

//go:wasmexport proxy_on_configure
func onConfigure(rootID, pluginConfigSize uint32) bool {
	r, ok := roots.get(rootID)
	if !ok {
		return false
	}
	active = rootID
	st := r.OnPluginStart(int(pluginConfigSize))
	collectCallouts()
	return bool(st)
}

//go:wasmexport proxy_on_tick
func onTick(rootID uint32) {
	if r, ok := roots.get(rootID); ok {
		active = rootID
		r.OnTick()
		collectCallouts()
	}
}

//go:wasmexport proxy_on_queue_ready
func onQueueReady(rootID, queueID uint32) {
	if r, ok := roots.get(rootID); ok {
		active = rootID
		r.OnQueueReady(queueID)
		collectCallouts()
	}
}

// An unknown stream (Envoy never calls back for one) continues.

//go:wasmexport proxy_on_new_connection
func onNewConnection(contextID uint32) uint32 {
	t, ok := streams.get(contextID)
	if !ok || t.tcp == nil {
		return uint32(types.ActionContinue)
	}
	active = contextID
	r := t.tcp.OnNewConnection()
	collectCallouts()
	return uint32(r)
}

//go:wasmexport proxy_on_downstream_data
func onDownstreamData(contextID, size uint32, eos bool) uint32 {
	t, ok := streams.get(contextID)
	if !ok || t.tcp == nil {
		return uint32(types.ActionContinue)
	}
	active = contextID
	r := t.tcp.OnDownstreamData(int(size), eos)
	collectCallouts()
	return uint32(r)
}

//go:wasmexport proxy_on_downstream_connection_close
func onDownstreamConnectionClose(contextID, peer uint32) {
	if t, ok := streams.get(contextID); ok && t.tcp != nil {
		active = contextID
		t.tcp.OnDownstreamClose(types.PeerType(peer))
		collectCallouts()
	}
}

//go:wasmexport proxy_on_upstream_data
func onUpstreamData(contextID, size uint32, eos bool) uint32 {
	t, ok := streams.get(contextID)
	if !ok || t.tcp == nil {
		return uint32(types.ActionContinue)
	}
	active = contextID
	r := t.tcp.OnUpstreamData(int(size), eos)
	collectCallouts()
	return uint32(r)
}

//go:wasmexport proxy_on_upstream_connection_close
func onUpstreamConnectionClose(contextID, peer uint32) {
	if t, ok := streams.get(contextID); ok && t.tcp != nil {
		active = contextID
		t.tcp.OnUpstreamClose(types.PeerType(peer))
		collectCallouts()
	}
}

//go:wasmexport proxy_on_request_headers
func onRequestHeaders(contextID, numHeaders uint32, eos bool) uint32 {
	s, ok := streams.get(contextID)
	if !ok || s.ctx == nil {
		return uint32(types.ActionContinue)
	}
	active = contextID
	r := s.ctx.OnHttpRequestHeaders(int(numHeaders), eos)
	collectCallouts()
	return uint32(r)
}

//go:wasmexport proxy_on_request_body
func onRequestBody(contextID, size uint32, eos bool) uint32 {
	s, ok := streams.get(contextID)
	if !ok || s.ctx == nil {
		return uint32(types.ActionContinue)
	}
	active = contextID
	r := s.ctx.OnHttpRequestBody(int(size), eos)
	collectCallouts()
	return uint32(r)
}

//go:wasmexport proxy_on_request_trailers
func onRequestTrailers(contextID, numTrailers uint32) uint32 {
	s, ok := streams.get(contextID)
	if !ok || s.ctx == nil {
		return uint32(types.ActionContinue)
	}
	active = contextID
	r := s.ctx.OnHttpRequestTrailers(int(numTrailers))
	collectCallouts()
	return uint32(r)
}

//go:wasmexport proxy_on_response_headers
func onResponseHeaders(contextID, numHeaders uint32, eos bool) uint32 {
	s, ok := streams.get(contextID)
	if !ok || s.ctx == nil {
		return uint32(types.ActionContinue)
	}
	active = contextID
	r := s.ctx.OnHttpResponseHeaders(int(numHeaders), eos)
	collectCallouts()
	return uint32(r)
}

//go:wasmexport proxy_on_response_body
func onResponseBody(contextID, size uint32, eos bool) uint32 {
	s, ok := streams.get(contextID)
	if !ok || s.ctx == nil {
		return uint32(types.ActionContinue)
	}
	active = contextID
	r := s.ctx.OnHttpResponseBody(int(size), eos)
	collectCallouts()
	return uint32(r)
}

//go:wasmexport proxy_on_response_trailers
func onResponseTrailers(contextID, numTrailers uint32) uint32 {
	s, ok := streams.get(contextID)
	if !ok || s.ctx == nil {
		return uint32(types.ActionContinue)
	}
	active = contextID
	r := s.ctx.OnHttpResponseTrailers(int(numTrailers))
	collectCallouts()
	return uint32(r)
}

//go:wasmexport proxy_on_http_call_response
func onHttpCallResponse(rootID, calloutID, numHeaders, bodySize, numTrailers uint32) {
	c, ok := takeCallout(rootID, calloutID)
	if !ok {
		return // not ours: nothing is waiting for it
	}
	// The caller may be gone: Envoy answers a callout after the stream
	// that made it was deleted, and then nothing may act on that stream.
	if _, live := streams.get(c.caller); !live {
		if _, live = roots.get(c.caller); !live {
			return
		}
	}
	active = c.caller
	proxySetEffectiveContext(c.caller)
	c.cb(int(numHeaders), int(bodySize), int(numTrailers))
	collectCallouts()
}

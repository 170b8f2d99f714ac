//go:build wasip1 && !tinygo

package bridge

import (
	_ "unsafe" // for go:linkname

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// The bridge dispatches the callbacks itself, but plugin code keeps calling
// proxywasm.SetVMContext and proxywasm.DispatchHttpCall, which act on the
// SDK's internal state (proxywasm/internal.currentState). The bridge reads
// that state through a mirror of its types, field for field as in
// v0.24.0 (like hostABI, the mirror must follow the SDK on an upgrade):
// the VM context the plugin registered, and the callouts DispatchHttpCall
// registered.
type sdkState struct {
	vmContext         types.VMContext
	pluginContexts    map[uint32]*sdkPluginContext
	httpContexts      map[uint32]types.HttpContext
	tcpContexts       map[uint32]types.TcpContext
	contextIDToRootID map[uint32]uint32
	activeContextID   uint32
}

type sdkPluginContext struct {
	context       types.PluginContext
	httpCallbacks map[uint32]*sdkCallout
}

type sdkCallout struct {
	callback        func(numHeaders, bodySize, numTrailers int)
	callerContextID uint32
}

//go:linkname sdkCurrentState github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.currentState
var sdkCurrentState *sdkState

// calloutSink is a context id Envoy never hands out. The SDK's
// DispatchHttpCall registers each callout under the root of the SDK's
// active context; the bridge makes that context the sink for good, so every
// registration lands in sink's map, whence collectCallouts moves it to the
// bridge's own list under the context that really dispatched it.
const calloutSink = ^uint32(0)

var sink = &sdkPluginContext{httpCallbacks: map[uint32]*sdkCallout{}}

func init() {
	// Only memory: no hostcall may run while Envoy runs _initialize.
	s := sdkCurrentState
	s.pluginContexts[calloutSink] = sink
	s.contextIDToRootID[calloutSink] = calloutSink
	s.activeContextID = calloutSink
}

// vmContext is what the plugin gave proxywasm.SetVMContext.
func vmContext() types.VMContext { return sdkCurrentState.vmContext }

// collectCallouts takes the callouts the callback that just ran on the
// active context dispatched through the SDK.
func collectCallouts() {
	if len(sink.httpCallbacks) == 0 {
		return
	}
	for id, c := range sink.httpCallbacks {
		pending = append(pending, callout{root: rootOf(active), id: id, caller: active, cb: c.callback})
		delete(sink.httpCallbacks, id)
	}
}

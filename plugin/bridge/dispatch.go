//go:build wasip1 && !tinygo

package bridge

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/firmly/session-transfer-filter/internal/headermap"
)

// SetVMContext is proxywasm.SetVMContext for the bridge's dispatch: the
// exports create root contexts from this VM context. It also registers it
// with the SDK, whose state nothing reads under this build.
func SetVMContext(ctx types.VMContext) {
	vm = ctx
	proxywasm.SetVMContext(ctx)
}

// callout is a dispatched HTTP call waiting for its answer.
type callout struct {
	root, id uint32 // Envoy numbers callouts per root context
	caller   uint32 // the context that dispatched it, to answer to
	cb       func(numHeaders, bodySize, numTrailers int)
}

// pending holds the callouts in flight: a transfer has at most one, so a
// short slice scanned linearly beats a map.
var pending []callout

// DispatchHttpCall is proxywasm.DispatchHttpCall for the bridge's dispatch:
// the answer is delivered to cb on the context that dispatched it, made
// the effective context first, unless that context is gone by then.
func DispatchHttpCall(cluster string, headers [][2]string, body []byte, trailers [][2]string, timeoutMs uint32, cb func(numHeaders, bodySize, numTrailers int)) (uint32, error) {
	h := headermap.Serialize(headers)
	t := headermap.Serialize(trailers)
	c := []byte(cluster)
	var cp, bp *byte
	if len(c) > 0 {
		cp = &c[0]
	}
	if len(body) > 0 {
		bp = &body[0]
	}
	var id uint32
	if st := proxyHttpCall(cp, uint32(len(c)), &h[0], uint32(len(h)), bp, uint32(len(body)), &t[0], uint32(len(t)), timeoutMs, &id); st != 0 {
		return 0, statusError("proxy_http_call", st)
	}
	pending = append(pending, callout{root: rootOf(active), id: id, caller: active, cb: cb})
	return id, nil
}

// takeCallout removes and returns the callout root's id names.
func takeCallout(root, id uint32) (callout, bool) {
	for i, c := range pending {
		if c.root == root && c.id == id {
			last := len(pending) - 1
			pending[i] = pending[last]
			pending[last] = callout{} // drop the callback's references
			pending = pending[:last]
			return c, true
		}
	}
	return callout{}, false
}

//go:build !wasip1 || tinygo

package bridge

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// SetVMContext is the SDK's on other platforms (proxytest dispatches there).
func SetVMContext(ctx types.VMContext) { proxywasm.SetVMContext(ctx) }

// DispatchHttpCall is the SDK's on other platforms.
func DispatchHttpCall(cluster string, headers [][2]string, body []byte, trailers [][2]string, timeoutMs uint32, cb func(numHeaders, bodySize, numTrailers int)) (uint32, error) {
	return proxywasm.DispatchHttpCall(cluster, headers, body, trailers, timeoutMs, cb)
}

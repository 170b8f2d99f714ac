//go:build !wasip1 || tinygo

package bridge

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/firmly/session-transfer-filter/internal/headermap"
)

// SendHttpResponse falls back to the SDK, whose local reply carries no
// details, so native proxytest tests build and run; the wasip1 build passes
// details through (localreply.go).
func SendHttpResponse(status uint32, _ string, headers headermap.Map, body []byte, grpcStatus int32) error {
	return proxywasm.SendHttpResponse(status, headers.Pairs(), body, grpcStatus)
}

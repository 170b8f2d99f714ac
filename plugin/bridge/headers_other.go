//go:build !wasip1 || tinygo

package bridge

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/firmly/session-transfer-filter/internal/headermap"
)

// GetHttpRequestHeaderMap is the request's header map serialised as the
// host would, from the SDK's pairs, so native proxytest tests run the same
// plugin code.
func GetHttpRequestHeaderMap() ([]byte, error) {
	h, err := proxywasm.GetHttpRequestHeaders()
	if err != nil {
		return nil, err
	}
	return headermap.Serialize(h), nil
}

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

// PeekHttpRequestHeader is the SDK's GetHttpRequestHeader on other platforms.
func PeekHttpRequestHeader(name string) ([]byte, bool) {
	v, err := proxywasm.GetHttpRequestHeader(name)
	return []byte(v), err == nil
}

// SetFilterState is the SDK's SetProperty on other platforms.
func SetFilterState(key, value string) error {
	return proxywasm.SetProperty([]string{key}, []byte(value))
}

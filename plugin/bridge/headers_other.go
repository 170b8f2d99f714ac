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

// PeekHttpCallResponseHeader finds the header in the SDK's
// GetHttpCallResponseHeaders on other platforms.
func PeekHttpCallResponseHeader(name string) ([]byte, bool) {
	h, err := proxywasm.GetHttpCallResponseHeaders()
	if err != nil {
		return nil, false
	}
	v, n := headermap.Pairs(h).Get(name)
	return []byte(v), n > 0
}

// SetFilterState is the SDK's SetProperty on other platforms.
func SetFilterState(key, value string) error {
	return proxywasm.SetProperty([]string{key}, []byte(value))
}

// PeekHttpRequestBody is the SDK's GetHttpRequestBody on other platforms.
func PeekHttpRequestBody(start, maxSize int) ([]byte, error) {
	return proxywasm.GetHttpRequestBody(start, maxSize)
}

// PeekHttpCallResponseBody is the SDK's GetHttpCallResponseBody on other
// platforms.
func PeekHttpCallResponseBody(start, maxSize int) ([]byte, error) {
	return proxywasm.GetHttpCallResponseBody(start, maxSize)
}

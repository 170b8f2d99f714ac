//go:build wasip1 && !tinygo

package bridge

import "unsafe"

// GetHttpRequestHeaderMap returns the request's header map in the form the
// host serialised it (internal/headermap reads it), without the SDK's
// decoding of every pair into Go strings. The bytes are the module's own
// buffer, which the host filled; nothing else refers to them.
func GetHttpRequestHeaderMap() ([]byte, error) {
	var raw *byte
	var n uint32
	st := proxyGetHeaderMapPairs(0, unsafe.Pointer(&raw), &n)
	release()
	if st != 0 {
		return nil, statusError("proxy_get_header_map_pairs", st)
	}
	if raw == nil || n == 0 {
		return nil, nil
	}
	return unsafe.Slice(raw, n), nil
}

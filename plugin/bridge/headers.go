//go:build wasip1 && !tinygo

package bridge

import "unsafe"

// The out-variables of the scratch reads: package variables, as the VM runs
// one callback at a time, because locals whose address goes to the host
// escape to the heap (two allocations per read).
var (
	outData *byte
	outSize uint32
)

// GetHttpRequestHeaderMap returns the request's header map in the form the
// host serialised it (internal/headermap reads it), without the SDK's
// decoding of every pair into Go strings. The bytes are the VM's scratch
// buffer: valid until the next GetHttpRequestHeaderMap or
// PeekHttpRequestHeader, so keep copies (headermap.Map.Get makes them), not
// the bytes.
func GetHttpRequestHeaderMap() ([]byte, error) {
	outData, outSize = nil, 0
	useScratch = true
	st := proxyGetHeaderMapPairs(0, unsafe.Pointer(&outData), &outSize)
	raw, n := outData, outSize
	outData = nil
	release()
	if st != 0 {
		return nil, statusError("proxy_get_header_map_pairs", st)
	}
	if raw == nil || n == 0 {
		return nil, nil
	}
	return unsafe.Slice(raw, n), nil
}

// PeekHttpRequestHeader returns the first value of a request header in the
// scratch buffer, with GetHttpRequestHeaderMap's lifetime: for a look that
// decides whether to read more (the route match on :path), at no
// allocation. ok is false when the header is absent or cannot be read.
func PeekHttpRequestHeader(name string) (value []byte, ok bool) {
	outData, outSize = nil, 0
	useScratch = true
	st := proxyGetHeaderMapValue(0, unsafe.StringData(name), uint32(len(name)), unsafe.Pointer(&outData), &outSize)
	raw, n := outData, outSize
	outData = nil
	release()
	if st != 0 {
		return nil, false
	}
	if raw == nil || n == 0 {
		return []byte{}, true
	}
	return unsafe.Slice(raw, n), true
}

// SetFilterState is proxywasm.SetProperty([]string{key}, value) without
// its two copies: a one-element path is the key itself, and the host only
// reads both. Like the SDK's, it refuses an empty value.
func SetFilterState(key, value string) error {
	if len(key) == 0 || len(value) == 0 {
		return errEmptyProperty
	}
	return statusError("proxy_set_property", proxySetProperty(unsafe.StringData(key), uint32(len(key)), unsafe.StringData(value), uint32(len(value))))
}

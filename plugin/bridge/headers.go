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
	return peekHeader(0, name)
}

// PeekHttpCallResponseHeader is PeekHttpRequestHeader for the answer of the
// callout being delivered (its :status).
func PeekHttpCallResponseHeader(name string) (value []byte, ok bool) {
	return peekHeader(6, name)
}

func peekHeader(mapType uint32, name string) (value []byte, ok bool) {
	outData, outSize = nil, 0
	useScratch = true
	st := proxyGetHeaderMapValue(mapType, unsafe.StringData(name), uint32(len(name)), unsafe.Pointer(&outData), &outSize)
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

// PeekHttpRequestBody is proxywasm.GetHttpRequestBody into the scratch
// buffer, with GetHttpRequestHeaderMap's lifetime: the transfer copies what
// it keeps of the body (transfer's tests pin that), so the VM reuses one
// buffer instead of allocating a body per request.
func PeekHttpRequestBody(start, maxSize int) ([]byte, error) {
	return peekBuffer(0, start, maxSize)
}

// PeekHttpCallResponseBody is proxywasm.GetHttpCallResponseBody into the
// scratch buffer (see PeekHttpRequestBody).
func PeekHttpCallResponseBody(start, maxSize int) ([]byte, error) {
	return peekBuffer(4, start, maxSize)
}

// peekBuffer reads a host buffer into the scratch buffer; like the SDK, a
// missing buffer is types.ErrorStatusNotFound.
func peekBuffer(bufferType uint32, start, maxSize int) ([]byte, error) {
	outData, outSize = nil, 0
	useScratch = true
	st := proxyGetBufferBytes(bufferType, uint32(start), uint32(maxSize), unsafe.Pointer(&outData), &outSize)
	raw, n := outData, outSize
	outData = nil
	release()
	if st != 0 {
		return nil, statusError("proxy_get_buffer_bytes", st)
	}
	if raw == nil {
		return nil, statusError("proxy_get_buffer_bytes", 1)
	}
	return unsafe.Slice(raw, n), nil
}

//go:build wasip1 && !tinygo

package bridge

// Buffers the host asks for through proxy_on_memory_allocate are kept here
// until the hostcall that asked for them returns. The host writes the buffer's
// address into a pointer-typed out-variable only after the allocation returns,
// so without this list a GC in between could, in principle, free the buffer.
// Every Envoy 0.2.1 hostcall allocates at most once, so the list stays tiny.
var inFlight [][]byte

func allocate(size uint32) *byte {
	if size == 0 {
		size = 1 // cpp-host never asks for 0 bytes; never hand back a nil pointer
	}
	buf := make([]byte, size)
	inFlight = append(inFlight, buf)
	return &buf[0]
}

// release drops the references taken by allocate once the caller's
// out-variables hold the pointers.
func release() {
	clear(inFlight)
	inFlight = inFlight[:0]
}

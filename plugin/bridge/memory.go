//go:build wasip1 && !tinygo

package bridge

// Buffers the host asks for through proxy_on_memory_allocate are kept here
// until the hostcall that asked for them returns. The host writes the buffer's
// address into a pointer-typed out-variable only after the allocation returns,
// so without this list a GC in between could, in principle, free the buffer.
// Every Envoy 0.2.1 hostcall allocates at most once, so the list stays tiny.
var inFlight [][]byte

// scratch is one buffer the VM reuses for what the bridge reads and the
// caller only looks at before its next bridge read (the request's :path and
// header map): no allocation per read. A 401 was mostly garbage collection
// under V8, and the buffers the host filled were a good part of what it
// collected.
var (
	scratch    []byte
	useScratch bool // the next allocation is the scratch buffer
)

func allocate(size uint32) *byte {
	if size == 0 {
		size = 1 // cpp-host never asks for 0 bytes; never hand back a nil pointer
	}
	if useScratch {
		useScratch = false
		if uint32(cap(scratch)) < size {
			scratch = make([]byte, size)
		}
		return &scratch[:size][0]
	}
	buf := make([]byte, size)
	inFlight = append(inFlight, buf)
	return &buf[0]
}

// release drops the references taken by allocate once the caller's
// out-variables hold the pointers.
func release() {
	useScratch = false
	clear(inFlight)
	inFlight = inFlight[:0]
}

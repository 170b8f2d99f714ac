package envoyhost

import (
	"context"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// ExportCallTime is what TimeStreamExport measured, summed over its calls.
type ExportCallTime struct {
	Calls int
	// Wall is the time inside wazero's Function.Call alone: the engine's
	// entry and exit and the guest, with nothing of the host around it.
	Wall time.Duration
	// Module is the same calls as module-time accounting counts them.
	Module time.Duration
	// Hostcalls is what the first call made, to check it took the path
	// it was meant to.
	Hostcalls []string
	// Segments splits Module by stretch of guest code between boundaries
	// (TimeRequestHeaders only; labelling them costs a little module time).
	Segments []Segment
}

// TimeStreamExport checks the module-time accounting against a direct
// measurement: on worker 0 it creates a stream context, calls the export
// name n times with the context id and args (as a stream callback is
// called), then deletes the context. With account, module-time accounting
// runs as in a request; without, only Wall is measured (what accounting
// itself costs). Each call is made through invoke,
// which may call it at once or after something the host does between
// callbacks (another goroutine, other memory touched), to find what makes
// the same call slower in a request. Hostcalls the export makes are
// served as for any stream's callback. An export that takes no context id
// (the ABI marker, an empty function) is called with args alone.
func (h *Host) TimeStreamExport(name string, n int, account bool, invoke func(call func()), args ...uint64) (ExportCallTime, error) {
	vm := h.workers[0]
	vm.mu.Lock()
	defer vm.mu.Unlock()
	ctx := context.Background()
	id := h.newContextID()
	if _, err := vm.callLocked(ctx, id, "proxy_on_context_create", uint64(id), uint64(vm.rootID)); err != nil {
		return ExportCallTime{}, err
	}
	defer vm.callLocked(ctx, id, "proxy_on_delete", uint64(id))
	f := vm.mod.ExportedFunction(name)
	if f == nil {
		return ExportCallTime{}, fmt.Errorf("host: the module does not export %s", name)
	}
	saved := vm.acct
	defer func() { vm.acct = saved }()
	acct := &moduleAcct{exports: map[string]ExportTime{}}
	vm.acct = nil
	if account {
		vm.acct = acct
	}
	var out ExportCallTime
	var callErr error
	params := append([]uint64{uint64(id)}, args...)
	if len(f.Definition().ParamTypes()) == len(args) {
		params = args // an export without a context id, such as the ABI marker
	}
	for range n {
		invoke(func() {
			vm.effective = id
			if err := timeCall(ctx, vm, f, name, &out, params...); err != nil && callErr == nil {
				callErr = err
			}
		})
		out.Calls++
	}
	out.Module = acct.exports[name].Module
	if len(acct.traces) > 0 {
		out.Hostcalls = acct.traces[0].Hostcalls
	}
	return out, callErr
}

// TimeRequestHeaders is TimeStreamExport for proxy_on_request_headers with
// the request headers h: each of the n calls on a stream of its own, whose
// context is created before the call is timed and deleted after it. What
// the call queues (a local reply) is dropped, not run.
func (h *Host) TimeRequestHeaders(hs Pairs, n int, account bool, invoke func(call func())) (ExportCallTime, error) {
	const name = "proxy_on_request_headers"
	vm := h.workers[0]
	vm.mu.Lock()
	defer vm.mu.Unlock()
	ctx := context.Background()
	f := vm.mod.ExportedFunction(name)
	saved := vm.acct
	defer func() { vm.acct = saved }()
	acct := &moduleAcct{trace: true, segments: true, exports: map[string]ExportTime{}}
	var out ExportCallTime
	var callErr error
	for range n {
		s := &Stream{vm: vm, id: h.newContextID(), done: make(chan struct{})}
		s.res.response = true
		s.requestHeadersCopy = append(Pairs(nil), hs...)
		s.started = h.now()
		s.req.headers = lowerKeys(hs)
		s.req.headersEOS, s.req.bodyEOS = true, true
		s.req.headersVisible = true
		vm.streams[s.id] = s
		vm.acct = nil
		if _, err := vm.callLocked(ctx, s.id, "proxy_on_context_create", uint64(s.id), uint64(vm.rootID)); err != nil {
			return out, err
		}
		if account {
			vm.acct = acct
		}
		invoke(func() {
			vm.effective, vm.localSent = s.id, false
			if err := timeCall(ctx, vm, f, name, &out, uint64(s.id), uint64(len(hs)), 1); err != nil && callErr == nil {
				callErr = err
			}
		})
		out.Calls++
		acct.trace = false // the first call's hostcalls are enough
		vm.acct = nil
		vm.deferred = nil
		vm.callLocked(ctx, s.id, "proxy_on_delete", uint64(s.id))
		delete(vm.streams, s.id)
	}
	out.Module = acct.exports[name].Module
	if len(acct.traces) > 0 {
		out.Hostcalls = acct.traces[0].Hostcalls
	}
	out.Segments = acct.segs
	return out, callErr
}

// timeCall is one timed call of export f, as callLocked makes it: the VM in
// the call's context, the accounting around it, and its wall time added to
// out.
func timeCall(ctx context.Context, vm *VM, f api.Function, name string, out *ExportCallTime, params ...uint64) error {
	cctx := context.WithValue(ctx, vmContextKey{}, vm)
	if vm.acct != nil {
		vm.acct.begin(name)
	}
	t0 := time.Now()
	_, err := f.Call(cctx, params...)
	out.Wall += time.Since(t0)
	if vm.acct != nil {
		vm.acct.end(name)
	}
	if err != nil {
		return fmt.Errorf("host: %s: %w", name, err)
	}
	return nil
}

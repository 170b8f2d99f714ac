package envoyhost

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// phase says which hostcalls are allowed, as cpp-host restricts them.
type phase int

const (
	phaseNormal phase = iota
	// phaseInit: during _initialize only proxy_log and the era's
	// startVm allow-list (startVMAllowed) are allowed.
	phaseInit
	// phaseAlloc: during proxy_on_memory_allocate only proxy_log, fd_write
	// and clock_time_get (and on 1.39 poll_oneoff) are allowed.
	phaseAlloc
)

// restrictedCallback is the trap cpp-host raises for a hostcall made where
// it is not allowed; the VM fails.
type restrictedCallback struct{ name string }

func (r restrictedCallback) Error() string {
	return "restricted_callback: " + r.name + " is not allowed here"
}

// VM is one worker's Wasm VM: one module instance, called by one thread at a
// time, as Envoy runs one VM per worker.
type VM struct {
	host *Host
	name string
	mod  api.Module
	mem  api.Memory
	fns  map[string]api.Function
	// alloc is kept apart from fns: it is called re-entrantly from inside
	// hostcalls, while another export of the module is running.
	alloc api.Function

	mu            sync.Mutex // held for every VM call and its deferred actions
	rootID        uint32
	phase         phase
	effective     uint32 // the context hostcalls act on
	localSent     bool   // a local response was queued during this call
	deferred      []func()
	configuring   bool
	callResp      *calloutResponse // set during proxy_on_http_call_response
	lastStatus    uint32
	lastStatusMsg string
	streams       map[uint32]*Stream
	callouts      map[uint32]*pendingCallout
	nextCallout   uint32
	tickPeriodMs  uint32
	tickGen       uint32      // bumped to disown a timer already running
	tickTimer     *time.Timer // real clock only
	nextTick      time.Time   // when the armed tick falls due
	failed        error
	closed        bool
	acct          *moduleAcct // module-time accounting, when measured
}

// ErrVMFailed is wrapped by every error from a VM that has trapped.
var ErrVMFailed = errors.New("wasm VM failed")

func (h *Host) startVM(ctx context.Context, name string) (*VM, error) {
	vm := &VM{host: h, name: name, fns: map[string]api.Function{}, streams: map[uint32]*Stream{}, callouts: map[uint32]*pendingCallout{}}
	cctx := context.WithValue(ctx, vmContextKey{}, vm)
	// Envoy calls _initialize itself, then never main; so must we.
	mod, err := h.mod.runtime.InstantiateModule(cctx, h.mod.compiled,
		wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, fmt.Errorf("host: %s: instantiate: %w", name, err)
	}
	vm.mod, vm.mem = mod, mod.Memory()
	vm.alloc = mod.ExportedFunction("proxy_on_memory_allocate")

	vm.mu.Lock()
	defer vm.mu.Unlock()
	vm.phase = phaseInit
	_, err = vm.callLocked(ctx, 0, "_initialize")
	vm.phase = phaseNormal
	if err != nil {
		vm.closeLocked(ctx)
		return nil, fmt.Errorf("host: %s: _initialize: %w", name, err)
	}
	vm.rootID = h.newContextID()
	if _, err := vm.callLocked(ctx, vm.rootID, "proxy_on_context_create", uint64(vm.rootID), 0); err != nil {
		vm.closeLocked(ctx)
		return nil, fmt.Errorf("host: %s: proxy_on_context_create(root): %w", name, err)
	}
	ok, err := vm.callLocked(ctx, vm.rootID, "proxy_on_vm_start", uint64(vm.rootID), uint64(len(h.cfg.VMConfig)))
	if err == nil && ok == 0 {
		err = errors.New("proxy_on_vm_start returned false")
	}
	if err == nil {
		vm.configuring = true
		ok, err = vm.callLocked(ctx, vm.rootID, "proxy_on_configure", uint64(vm.rootID), uint64(len(h.cfg.PluginConfig)))
		vm.configuring = false
		if err == nil && ok == 0 {
			err = errors.New("proxy_on_configure returned false")
		}
	}
	vm.runDeferredLocked(ctx)
	if err != nil {
		vm.closeLocked(ctx)
		return nil, fmt.Errorf("host: %s: plugin failed to start: %w%s", name, err, criticalSuffix(h))
	}
	return vm, nil
}

func criticalSuffix(h *Host) string {
	s := ""
	for _, m := range h.LogsAt(LevelCritical) {
		s += "\n\tcritical: " + m
	}
	return s
}

func (vm *VM) close(ctx context.Context) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	vm.closeLocked(ctx)
}

func (vm *VM) closeLocked(ctx context.Context) {
	if vm.closed {
		return
	}
	vm.closed = true
	vm.stopTickLocked()
	for _, c := range vm.callouts {
		c.cancel()
	}
	for _, s := range vm.streams {
		s.abortUpstream()
	}
	vm.mod.Close(ctx)
}

// Failed reports the error that failed the VM, or nil.
func (vm *VM) Failed() error {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.failed
}

// RootID is the root (plugin) context's id.
func (vm *VM) RootID() uint32 { return vm.rootID }

// TickPeriod is the last period the plugin set, in milliseconds.
func (vm *VM) TickPeriod() uint32 {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.tickPeriodMs
}

// Tick calls proxy_on_tick on the root context, as Envoy's timer would.
func (vm *VM) Tick(ctx context.Context) error {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.tickLocked(ctx)
}

// callLocked calls an export with contextID as the effective context. A trap fails the VM for good. An export the module lacks is a
// no-op returning 0, as Envoy treats a missing callback.
func (vm *VM) callLocked(ctx context.Context, contextID uint32, name string, args ...uint64) (uint64, error) {
	if vm.failed != nil {
		return 0, vm.failed
	}
	if vm.closed {
		return 0, fmt.Errorf("host: %s: VM closed", vm.name)
	}
	f, ok := vm.fns[name]
	if !ok {
		f = vm.mod.ExportedFunction(name)
		vm.fns[name] = f
	}
	if f == nil {
		return 0, nil
	}
	vm.effective = contextID
	vm.localSent = false
	vm.host.trace(vm.name, name, args)
	// No deadline: Envoy has none, and wazero's interruptible mode
	// (WithCloseOnContextDone) made guest code about five times slower.
	// The context is the host's allocation: made before accounting starts,
	// so that module time is the call alone.
	cctx := context.WithValue(ctx, vmContextKey{}, vm)
	if vm.acct != nil {
		vm.acct.begin(name)
	}
	res, err := f.Call(cctx, args...)
	if vm.acct != nil {
		vm.acct.end(name)
	}
	if err != nil {
		vm.failed = fmt.Errorf("%w: %s: %s(%v): %v", ErrVMFailed, vm.name, name, args, err)
		vm.host.log(LevelCritical, fmt.Sprintf("wasm VM %s failed in %s: %v", vm.name, name, err))
		return 0, vm.failed
	}
	if len(res) == 0 {
		return 0, nil
	}
	return res[0], nil
}

// growStack grows the calling goroutine's stack, once, before it calls the
// VM. Envoy calls the VM on worker threads whose stacks never grow; a
// goroutine starts with a few KiB, and the first VM call on a new one
// copied its stack inside wazero's Function.Call, where module-time
// accounting counted the copy as the guest's: 0.6 µs for an empty export,
// about 2 µs after the host's upstream work (TestPerfExportDirect). The
// host delivers upstream answers, queue notifications and ticks on
// goroutines of their own, so each of those starts here.
//
//go:noinline
func growStack(i int) byte {
	var pad [32 << 10]byte // a frame this large grows the stack on entry
	pad[i&(len(pad)-1)] = byte(i)
	return pad[(i*7)&(len(pad)-1)]
}

// defer queues an action to run once the current VM call has returned, as
// cpp-host does for local responses, continue and close.
func (vm *VM) deferAction(f func()) { vm.deferred = append(vm.deferred, f) }

func (vm *VM) runDeferredLocked(ctx context.Context) {
	for len(vm.deferred) > 0 {
		f := vm.deferred[0]
		vm.deferred = vm.deferred[1:]
		f()
	}
}

// --- guest memory ---------------------------------------------------------

func (vm *VM) read(ptr, size uint32) ([]byte, bool) {
	if size == 0 {
		return nil, true
	}
	b, ok := vm.mem.Read(ptr, size)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), b...), true
}

func (vm *VM) readString(ptr, size uint32) (string, bool) {
	b, ok := vm.read(ptr, size)
	return string(b), ok
}

func (vm *VM) writeU32(ptr, v uint32) bool { return vm.mem.WriteUint32Le(ptr, v) }

func (vm *VM) writeU64(ptr uint32, v uint64) bool { return vm.mem.WriteUint64Le(ptr, v) }

// copyOut hands data to the guest the way cpp-host's copyToPointerSize does:
// empty data is (0, 0) without an allocation; otherwise the guest allocates
// through proxy_on_memory_allocate and the host writes address and size.
func (vm *VM) copyOut(ctx context.Context, data []byte, ptrPtr, sizePtr uint32) uint32 {
	if len(data) == 0 {
		if !vm.writeU32(ptrPtr, 0) || !vm.writeU32(sizePtr, 0) {
			return statusInvalidMemoryAccess
		}
		return statusOK
	}
	saved := vm.phase
	vm.phase = phaseAlloc
	if vm.acct != nil {
		vm.acct.exportEnter("proxy_on_memory_allocate")
	}
	res, err := vm.alloc.Call(ctx, uint64(len(data)))
	if vm.acct != nil {
		vm.acct.exportExit("proxy_on_memory_allocate")
	}
	vm.phase = saved
	if err != nil {
		panic(fmt.Errorf("proxy_on_memory_allocate(%d): %w", len(data), err))
	}
	ptr := uint32(res[0])
	if ptr == 0 || !vm.mem.Write(ptr, data) {
		panic(fmt.Errorf("proxy_on_memory_allocate(%d) returned unusable pointer %#x", len(data), ptr))
	}
	if !vm.writeU32(ptrPtr, ptr) || !vm.writeU32(sizePtr, uint32(len(data))) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}

func u32(v uint64) uint32 { return uint32(v) }

// MemoryPages is the VM's linear memory size in 64 KiB pages; wasm memory
// never shrinks, so this is the VM's high-water mark.
func (vm *VM) MemoryPages() uint32 {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.mem.Size() / 65536
}

package envoyhost

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// WASI errno values used by cpp-host's stubs.
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoInval   = 28
	errnoNoent   = 44
	errnoNosys   = 52
	errnoNotsup  = 58
)

// maxRandomBytes is cpp-host's limit for one random_get.
const maxRandomBytes = 64 << 10

// startVMAllowed is what cpp-host's WasmBase::startVm (src/wasm.cc) lets
// _initialize call, per era. The base list (restricted callbacks, cpp-host
// #306) is logging, args, environ, prestat, clock and random; #427 (Envoy
// 1.33) adds fd_fdstat_get and fd_fdstat_set_flags, which the Go runtime
// calls while it initialises. #533 (Envoy 1.39) adds poll_oneoff and the
// stubs it introduces. sched_yield, proc_exit, fd_close, fd_read, fd_seek and
// path_open trap in every era; every env.proxy_* call but proxy_log too.
var startVMAllowed = map[EnvoyVersion]map[string]bool{
	Envoy133: setOf(startVMBase...),
	Envoy139: setOf(append(append([]string{"poll_oneoff"}, startVMBase...), wasi139Extra...)...),
}

var startVMBase = []string{
	"fd_write", "args_sizes_get", "args_get", "environ_sizes_get", "environ_get",
	"fd_prestat_get", "fd_prestat_dir_name", "clock_time_get", "random_get",
	"fd_fdstat_get", "fd_fdstat_set_flags",
}

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// allowedWhileRestricted reports whether a hostcall may run in the phase.
func allowedWhileRestricted(p phase, module, name string, envoy EnvoyVersion) bool {
	switch p {
	case phaseInit:
		if module == "env" {
			return name == "proxy_log"
		}
		return startVMAllowed[envoy][name]
	case phaseAlloc:
		switch name {
		case "proxy_log", "fd_write", "clock_time_get":
			return true
		case "poll_oneoff":
			return envoy == Envoy139 // cpp-host #533: "go runtime gc sleep"
		}
		return false
	}
	return true
}

// sig turns "iIi" into value types: i = i32, I = i64.
func sig(s string) []api.ValueType {
	out := make([]api.ValueType, len(s))
	for i, c := range s {
		if c == 'I' {
			out[i] = api.ValueTypeI64
		} else {
			out[i] = api.ValueTypeI32
		}
	}
	return out
}

func defineRestricted(b wazero.HostModuleBuilder, module, name, params, results string, envoy EnvoyVersion, fn hostFunc) {
	define(b, name, sig(params), sig(results), func(ctx context.Context, vm *VM, mem api.Memory, stack []uint64) {
		if !allowedWhileRestricted(vm.phase, module, name, envoy) {
			panic(restrictedCallback{name})
		}
		fn(ctx, vm, mem, stack)
	})
}

func defineWASI(b wazero.HostModuleBuilder, envoy EnvoyVersion) {
	w := func(name, params string, fn hostFunc) {
		defineRestricted(b, "wasi_snapshot_preview1", name, params, "i", envoy, fn)
	}
	errno := func(e uint64) hostFunc {
		return func(_ context.Context, _ *VM, _ api.Memory, stack []uint64) { stack[0] = e }
	}

	w("sched_yield", "", errno(errnoSuccess))
	defineRestricted(b, "wasi_snapshot_preview1", "proc_exit", "i", "", envoy, func(_ context.Context, vm *VM, _ api.Memory, stack []uint64) {
		// cpp-host logs and returns; it does not trap here.
		vm.host.log(LevelError, fmt.Sprintf("wasi proc_exit(%d) called", u32(stack[0])))
	})
	w("args_sizes_get", "ii", func(_ context.Context, vm *VM, _ api.Memory, stack []uint64) {
		vm.writeU32(u32(stack[0]), 0)
		vm.writeU32(u32(stack[1]), 0)
		stack[0] = errnoSuccess
	})
	w("args_get", "ii", errno(errnoSuccess))
	w("environ_sizes_get", "ii", func(_ context.Context, vm *VM, _ api.Memory, stack []uint64) {
		env := vm.host.environ()
		size := 0
		for _, kv := range env {
			size += len(kv) + 1
		}
		vm.writeU32(u32(stack[0]), uint32(len(env)))
		vm.writeU32(u32(stack[1]), uint32(size))
		stack[0] = errnoSuccess
	})
	w("environ_get", "ii", func(_ context.Context, vm *VM, mem api.Memory, stack []uint64) {
		ptrs, buf := u32(stack[0]), u32(stack[1])
		for i, kv := range vm.host.environ() {
			vm.writeU32(ptrs+uint32(4*i), buf)
			mem.Write(buf, append([]byte(kv), 0))
			buf += uint32(len(kv) + 1)
		}
		stack[0] = errnoSuccess
	})
	w("clock_time_get", "iIi", func(_ context.Context, vm *VM, _ api.Memory, stack []uint64) {
		var t uint64
		switch u32(stack[0]) {
		case 0: // realtime
			t = uint64(vm.host.now().UnixNano())
		case 1: // monotonic
			t = vm.host.monotonicNanos()
		default:
			stack[0] = errnoNotsup
			return
		}
		vm.writeU64(u32(stack[2]), t)
		stack[0] = errnoSuccess
	})
	w("random_get", "ii", func(_ context.Context, vm *VM, mem api.Memory, stack []uint64) {
		n := u32(stack[1])
		if n > maxRandomBytes {
			stack[0] = errnoInval
			return
		}
		b := make([]byte, n)
		rand.Read(b)
		mem.Write(u32(stack[0]), b)
		stack[0] = errnoSuccess
	})
	w("fd_write", "iiii", func(_ context.Context, vm *VM, mem api.Memory, stack []uint64) {
		fd, iovs, n, nwritten := u32(stack[0]), u32(stack[1]), u32(stack[2]), u32(stack[3])
		if fd != 1 && fd != 2 {
			stack[0] = errnoBadf
			return
		}
		// cpp-host's writevImpl: one log line per fd_write, its trailing
		// newline dropped, so a message written in pieces is many lines.
		var line []byte
		for i := uint32(0); i < n; i++ {
			p, _ := mem.ReadUint32Le(iovs + 8*i)
			l, _ := mem.ReadUint32Le(iovs + 8*i + 4)
			b, _ := vm.read(p, l)
			line = append(line, b...)
		}
		if len(line) > 0 {
			vm.logFd(fd, strings.TrimSuffix(string(line), "\n"))
		}
		vm.writeU32(nwritten, uint32(len(line)))
		stack[0] = errnoSuccess
	})
	w("poll_oneoff", "iiii", func(_ context.Context, vm *VM, _ api.Memory, stack []uint64) {
		if envoy == Envoy139 {
			vm.writeU32(u32(stack[3]), 0)
			stack[0] = errnoSuccess
			return
		}
		stack[0] = errnoNosys
	})
	w("fd_close", "i", errno(errnoSuccess))
	w("fd_fdstat_get", "ii", func(_ context.Context, vm *VM, mem api.Memory, stack []uint64) {
		fd := u32(stack[0])
		if fd != 1 && fd != 2 {
			stack[0] = errnoBadf
			return
		}
		var st [24]byte
		st[0] = 2 // character device; flags and rights 0
		mem.Write(u32(stack[1]), st[:])
		stack[0] = errnoSuccess
	})
	w("fd_fdstat_set_flags", "ii", errno(errnoNosys))
	w("fd_prestat_get", "ii", errno(errnoBadf))
	w("fd_prestat_dir_name", "iii", errno(errnoNosys))
	w("fd_read", "iiii", errno(errnoNosys))
	w("fd_seek", "iIii", func(_ context.Context, vm *VM, _ api.Memory, stack []uint64) {
		vm.host.log(LevelError, "wasi fd_seek is not supported")
		stack[0] = errnoSuccess
	})
	w("path_open", "iiiiiIIii", errno(errnoNoent))

	if envoy != Envoy139 {
		return
	}
	// Envoy 1.39 stubs (cpp-host #533).
	for name, params := range map[string]string{
		"clock_res_get": "ii", "fd_advise": "iIIi", "fd_allocate": "iII", "fd_datasync": "i",
		"fd_fdstat_set_rights": "iII", "fd_filestat_set_size": "iI", "fd_filestat_set_times": "iIIi",
		"fd_pread": "iiiIi", "fd_pwrite": "iiiIi", "fd_readdir": "iiiIi", "fd_renumber": "ii",
		"fd_sync": "i", "fd_tell": "ii",
		"path_create_directory": "iii", "path_filestat_get": "iiiii", "path_filestat_set_times": "iiiiIIi",
		"path_link": "iiiiiii", "path_readlink": "iiiiii", "path_remove_directory": "iii",
		"path_rename": "iiiiii", "path_symlink": "iiiii", "path_unlink_file": "iii",
		"sock_accept": "iii", "sock_recv": "iiiiii", "sock_send": "iiiii", "sock_shutdown": "ii",
	} {
		e := uint64(errnoNotsup)
		if strings.HasPrefix(name, "fd_") {
			e = errnoBadf
		}
		w(name, params, errno(e))
	}
	w("fd_filestat_get", "ii", errno(errnoBadf))
}

var processStart = time.Now()

func (vm *VM) logFd(fd uint32, line string) {
	level := LevelInfo
	if fd == 2 {
		level = LevelError
	}
	vm.host.log(level, line)
}

func (h *Host) environ() []string {
	var out []string
	for k, v := range h.cfg.Env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

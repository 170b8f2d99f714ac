package envoyhost

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"google.golang.org/protobuf/types/known/structpb"
)

func defineProxyABI(b wazero.HostModuleBuilder) {
	// Restriction checks for "env" do not depend on the Envoy version.
	p := func(name, params, results string, fn hostFunc) {
		defineRestricted(b, "env", name, params, results, Envoy133, fn)
	}
	s := func(name, params string, fn hostFunc) { p(name, params, "i", fn) }

	s("proxy_log", "iii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		msg, ok := vm.readString(u32(st[1]), u32(st[2]))
		if !ok {
			st[0] = statusInvalidMemoryAccess
			return
		}
		level := LogLevel(u32(st[0]))
		if level > LevelCritical {
			st[0] = statusBadArgument
			return
		}
		vm.host.log(level, msg)
		st[0] = statusOK
	})
	s("proxy_get_log_level", "i", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		vm.writeU32(u32(st[0]), uint32(LevelTrace))
		st[0] = statusOK
	})
	s("proxy_get_current_time_nanoseconds", "i", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		vm.writeU64(u32(st[0]), uint64(vm.host.now().UnixNano()))
		st[0] = statusOK
	})
	s("proxy_set_tick_period_milliseconds", "i", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		vm.setTickPeriodLocked(u32(st[0]))
		st[0] = statusOK
	})
	// cpp-host's WasmBase::done: OK only for a root context whose
	// proxy_on_done returned false during teardown (pending_done_). The host
	// never tears a root context down that way, so it is always NotFound.
	s("proxy_done", "", func(_ context.Context, _ *VM, _ api.Memory, st []uint64) { st[0] = statusNotFound })
	s("proxy_set_effective_context", "i", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		id := u32(st[0])
		if _, ok := vm.streams[id]; !ok && id != vm.rootID {
			st[0] = statusBadArgument
			return
		}
		vm.effective = id
		st[0] = statusOK
	})

	// Buffers.
	s("proxy_get_buffer_bytes", "iiiii", func(ctx context.Context, vm *VM, _ api.Memory, st []uint64) {
		buf, status := vm.buffer(u32(st[0]))
		if status != statusOK {
			st[0] = uint64(status)
			return
		}
		start, max := u32(st[1]), u32(st[2])
		if int(start) > len(buf) {
			st[0] = statusBadArgument
			return
		}
		end := len(buf)
		if uint64(start)+uint64(max) < uint64(end) {
			end = int(start + max)
		}
		st[0] = uint64(vm.copyOut(ctx, buf[start:end], u32(st[3]), u32(st[4])))
	})
	s("proxy_get_buffer_status", "iii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		buf, status := vm.buffer(u32(st[0]))
		if status != statusOK {
			st[0] = uint64(status)
			return
		}
		vm.writeU32(u32(st[1]), uint32(len(buf)))
		vm.writeU32(u32(st[2]), 0)
		st[0] = statusOK
	})
	s("proxy_set_buffer_bytes", "iiiii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		data, ok := vm.read(u32(st[3]), u32(st[4]))
		if !ok {
			st[0] = statusInvalidMemoryAccess
			return
		}
		st[0] = uint64(vm.setBuffer(u32(st[0]), u32(st[1]), u32(st[2]), data))
	})

	// Header maps.
	s("proxy_get_header_map_pairs", "iii", func(ctx context.Context, vm *VM, _ api.Memory, st []uint64) {
		m := vm.headerMap(u32(st[0]))
		if m == nil || len(*m) == 0 {
			// Envoy answers OK with an empty map when the map is gone.
			st[0] = uint64(vm.copyOut(ctx, nil, u32(st[1]), u32(st[2])))
			return
		}
		st[0] = uint64(vm.copyOut(ctx, encodePairs(*m), u32(st[1]), u32(st[2])))
	})
	s("proxy_get_header_map_size", "ii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		// Envoy looks the map up with getMap, which knows only the four
		// stream maps: the callout response's maps are BadArgument.
		m := vm.mutableHeaderMap(u32(st[0]))
		if m == nil {
			st[0] = statusBadArgument
			return
		}
		// Envoy's getHeaderMapSize is HeaderMap::byteSize: the sum of
		// every key's and value's length, not the serialised size.
		size := 0
		for _, kv := range *m {
			size += len(kv[0]) + len(kv[1])
		}
		vm.writeU32(u32(st[1]), uint32(size))
		st[0] = statusOK
	})
	s("proxy_set_header_map_pairs", "iii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		m := vm.mutableHeaderMap(u32(st[0]))
		data, ok := vm.read(u32(st[1]), u32(st[2]))
		if m == nil || !ok {
			st[0] = statusBadArgument
			return
		}
		pairs, err := decodePairs(data)
		if err != nil {
			st[0] = statusBadArgument
			return
		}
		*m = (*m)[:0]
		for _, kv := range pairs {
			*m = append(*m, [2]string{strings.ToLower(kv[0]), kv[1]})
		}
		st[0] = statusOK
	})
	s("proxy_get_header_map_value", "iiiii", func(ctx context.Context, vm *VM, _ api.Memory, st []uint64) {
		m := vm.headerMap(u32(st[0]))
		key, ok := vm.readString(u32(st[1]), u32(st[2]))
		if m == nil || !ok {
			st[0] = statusBadArgument // "map not available"
			return
		}
		// Envoy returns only the first value of a repeated header.
		v, found := m.Get(strings.ToLower(key))
		if !found {
			st[0] = statusNotFound
			return
		}
		st[0] = uint64(vm.copyOut(ctx, []byte(v), u32(st[3]), u32(st[4])))
	})
	s("proxy_add_header_map_value", "iiiii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		m := vm.mutableHeaderMap(u32(st[0]))
		key, ok1 := vm.readString(u32(st[1]), u32(st[2]))
		val, ok2 := vm.readString(u32(st[3]), u32(st[4]))
		if m == nil || !ok1 || !ok2 {
			st[0] = statusBadArgument
			return
		}
		*m = append(*m, [2]string{strings.ToLower(key), val})
		st[0] = statusOK
	})
	s("proxy_replace_header_map_value", "iiiii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		m := vm.mutableHeaderMap(u32(st[0]))
		key, ok1 := vm.readString(u32(st[1]), u32(st[2]))
		val, ok2 := vm.readString(u32(st[3]), u32(st[4]))
		if m == nil || !ok1 || !ok2 {
			st[0] = statusBadArgument
			return
		}
		key = strings.ToLower(key)
		*m = removeKey(*m, key)
		*m = append(*m, [2]string{key, val})
		st[0] = statusOK
	})
	s("proxy_remove_header_map_value", "iii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		m := vm.mutableHeaderMap(u32(st[0]))
		key, ok := vm.readString(u32(st[1]), u32(st[2]))
		if m == nil || !ok {
			st[0] = statusBadArgument
			return
		}
		*m = removeKey(*m, strings.ToLower(key))
		st[0] = statusOK
	})

	// Stream control: deferred until the VM call returns; silent no-ops on a
	// context without a stream (the root context).
	s("proxy_continue_stream", "i", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		t := u32(st[0])
		switch {
		case t > 3:
			st[0] = statusBadArgument
			return
		case t > 1:
			st[0] = statusUnimplemented
			return
		}
		if s := vm.streams[vm.effective]; s != nil {
			vm.deferAction(func() { s.resume(t == streamResponse) })
		}
		st[0] = statusOK
	})
	s("proxy_close_stream", "i", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		if u32(st[0]) > 3 {
			st[0] = statusBadArgument
			return
		}
		if s := vm.streams[vm.effective]; s != nil {
			vm.deferAction(func() { s.reset("wasm_close_stream") })
		}
		st[0] = statusOK
	})
	s("proxy_get_status", "iii", func(ctx context.Context, vm *VM, _ api.Memory, st []uint64) {
		vm.writeU32(u32(st[0]), vm.lastStatus)
		st[0] = uint64(vm.copyOut(ctx, []byte(vm.lastStatusMsg), u32(st[1]), u32(st[2])))
	})
	s("proxy_send_local_response", "iiiiiiii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		details, ok1 := vm.readString(u32(st[1]), u32(st[2]))
		body, ok2 := vm.read(u32(st[3]), u32(st[4]))
		hdrs, ok3 := vm.read(u32(st[5]), u32(st[6]))
		if !ok1 || !ok2 || !ok3 {
			st[0] = statusInvalidMemoryAccess
			return
		}
		pairs, err := decodePairs(hdrs)
		if err != nil {
			st[0] = statusBadArgument
			return
		}
		s := vm.streams[vm.effective]
		if s == nil {
			// Envoy: no decoder callbacks on this context; OK, nothing sent.
			st[0] = statusOK
			return
		}
		vm.localSent = true // forces Stop as the callback's result
		details = strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return '_'
			}
			return r
		}, details)
		status := int(u32(st[0]))
		vm.deferAction(func() { s.localReply(status, body, pairs, details) })
		st[0] = statusOK
	})

	// Callouts.
	s("proxy_http_call", "iiiiiiiiii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		cluster, ok1 := vm.readString(u32(st[0]), u32(st[1]))
		hdrs, ok2 := vm.read(u32(st[2]), u32(st[3]))
		body, ok3 := vm.read(u32(st[4]), u32(st[5]))
		trls, ok4 := vm.read(u32(st[6]), u32(st[7]))
		if !ok1 || !ok2 || !ok3 || !ok4 {
			st[0] = statusInvalidMemoryAccess
			return
		}
		id, status := vm.dispatchHTTPCall(cluster, hdrs, body, trls, u32(st[8]))
		if status == statusOK {
			vm.writeU32(u32(st[9]), id)
		}
		st[0] = uint64(status)
	})
	grpcUnsupported := func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		vm.host.log(LevelWarn, "host: gRPC callouts are not emulated")
		st[0] = statusBadArgument
	}
	s("proxy_grpc_call", "iiiiiiiiiiii", grpcUnsupported)
	s("proxy_grpc_stream", "iiiiiiiii", grpcUnsupported)
	s("proxy_grpc_send", "iiii", grpcUnsupported)
	s("proxy_grpc_cancel", "i", grpcUnsupported)
	s("proxy_grpc_close", "i", grpcUnsupported)

	// Shared data and queues, shared by every VM of the host (one vm_id).
	s("proxy_get_shared_data", "iiiii", func(ctx context.Context, vm *VM, _ api.Memory, st []uint64) {
		key, ok := vm.readString(u32(st[0]), u32(st[1]))
		if !ok {
			st[0] = statusInvalidMemoryAccess
			return
		}
		v, found := vm.host.getShared(key)
		if !found {
			st[0] = statusNotFound
			return
		}
		vm.writeU32(u32(st[4]), v.cas)
		st[0] = uint64(vm.copyOut(ctx, v.value, u32(st[2]), u32(st[3])))
	})
	s("proxy_set_shared_data", "iiiii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		key, ok1 := vm.readString(u32(st[0]), u32(st[1]))
		val, ok2 := vm.read(u32(st[2]), u32(st[3]))
		if !ok1 || !ok2 {
			st[0] = statusInvalidMemoryAccess
			return
		}
		st[0] = uint64(vm.host.setShared(key, val, u32(st[4])))
	})
	s("proxy_register_shared_queue", "iii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		name, ok := vm.readString(u32(st[0]), u32(st[1]))
		if !ok {
			st[0] = statusInvalidMemoryAccess
			return
		}
		vm.writeU32(u32(st[2]), vm.host.registerQueue(name, vm))
		st[0] = statusOK
	})
	s("proxy_resolve_shared_queue", "iiiii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		name, ok := vm.readString(u32(st[2]), u32(st[3]))
		if !ok {
			st[0] = statusInvalidMemoryAccess
			return
		}
		id, found := vm.host.resolveQueue(name)
		if !found {
			st[0] = statusNotFound
			return
		}
		vm.writeU32(u32(st[4]), id)
		st[0] = statusOK
	})
	s("proxy_enqueue_shared_queue", "iii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		val, ok := vm.read(u32(st[1]), u32(st[2]))
		if !ok {
			st[0] = statusInvalidMemoryAccess
			return
		}
		st[0] = uint64(vm.host.enqueue(vm, u32(st[0]), val))
	})
	s("proxy_dequeue_shared_queue", "iii", func(ctx context.Context, vm *VM, _ api.Memory, st []uint64) {
		val, status := vm.host.dequeue(u32(st[0]))
		if status != statusOK {
			st[0] = uint64(status)
			return
		}
		st[0] = uint64(vm.copyOut(ctx, val, u32(st[1]), u32(st[2])))
	})

	// Metrics.
	s("proxy_define_metric", "iiii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		name, ok := vm.readString(u32(st[1]), u32(st[2]))
		if !ok || u32(st[0]) > metricHistogram {
			st[0] = statusBadArgument
			return
		}
		vm.writeU32(u32(st[3]), vm.host.defineMetric(u32(st[0]), name))
		st[0] = statusOK
	})
	s("proxy_increment_metric", "iI", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		st[0] = uint64(vm.host.incrementMetric(u32(st[0]), int64(st[1])))
	})
	s("proxy_record_metric", "iI", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		st[0] = uint64(vm.host.recordMetric(u32(st[0]), st[1]))
	})
	s("proxy_get_metric", "ii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		v, status := vm.host.getMetric(u32(st[0]))
		if status == statusOK {
			vm.writeU64(u32(st[1]), v)
		}
		st[0] = uint64(status)
	})

	// Properties.
	s("proxy_get_property", "iiii", func(ctx context.Context, vm *VM, _ api.Memory, st []uint64) {
		path, ok := vm.readString(u32(st[0]), u32(st[1]))
		if !ok {
			st[0] = statusInvalidMemoryAccess
			return
		}
		if segs := strings.Split(path, "\x00"); segs[0] == "metadata" {
			// Segments, not a dotted path: a namespace has dots in it.
			var md map[string]*structpb.Struct
			if s := vm.streams[vm.effective]; s != nil {
				md = s.metadata
			}
			v, status := metadataProperty(md, segs)
			if status != statusOK {
				st[0] = status
				return
			}
			st[0] = uint64(vm.copyOut(ctx, v, u32(st[2]), u32(st[3])))
			return
		}
		v, found := vm.property(strings.Trim(strings.ReplaceAll(path, "\x00", "."), "."))
		if !found {
			st[0] = statusNotFound
			return
		}
		st[0] = uint64(vm.copyOut(ctx, v, u32(st[2]), u32(st[3])))
	})
	s("proxy_set_property", "iiii", func(_ context.Context, vm *VM, _ api.Memory, st []uint64) {
		path, ok1 := vm.readString(u32(st[0]), u32(st[1]))
		val, ok2 := vm.read(u32(st[2]), u32(st[3]))
		if !ok1 || !ok2 {
			st[0] = statusInvalidMemoryAccess
			return
		}
		key := strings.Trim(strings.ReplaceAll(path, "\x00", "."), ".")
		if s := vm.streams[vm.effective]; s != nil {
			// On a stream Envoy keeps it as filter state wasm.<key>.
			if s.filterState == nil {
				s.filterState = map[string][]byte{}
			}
			s.filterState["wasm."+key] = append([]byte(nil), val...)
			st[0] = statusOK
			return
		}
		vm.host.setProperty(key, val)
		st[0] = statusOK
	})
	s("proxy_call_foreign_function", "iiiiii", func(_ context.Context, _ *VM, _ api.Memory, st []uint64) {
		st[0] = statusNotFound // no foreign functions are registered
	})
}

func removeKey(p Pairs, key string) Pairs {
	out := p[:0]
	for _, kv := range p {
		if kv[0] != key {
			out = append(out, kv)
		}
	}
	return out
}

// buffer resolves a buffer type against the current call.
func (vm *VM) buffer(t uint32) ([]byte, uint32) {
	switch t {
	case bufVMConfiguration:
		return vm.host.cfg.VMConfig, statusOK
	case bufPluginConfiguration:
		// Readable only while proxy_on_configure runs.
		if !vm.configuring {
			return nil, statusNotFound
		}
		return vm.host.cfg.PluginConfig, statusOK
	case bufHTTPCallResponseBody:
		if vm.callResp == nil {
			return nil, statusNotFound
		}
		return vm.callResp.body, statusOK
	case bufRequestBody, bufResponseBody:
		// Envoy's getBuffer always returns a buffer wrapper for the body
		// types; outside a body callback (and not buffering) it wraps
		// nothing, so reads are OK and empty.
		s := vm.streams[vm.effective]
		if s == nil {
			return nil, statusOK
		}
		d := s.dir(t == bufResponseBody)
		if !d.bodyVisible {
			return nil, statusOK
		}
		return d.body, statusOK
	}
	return nil, statusNotFound
}

// setBuffer follows Envoy: start 0 drains size bytes and prepends the data,
// start at or past the end appends, anything else is BAD_ARGUMENT.
func (vm *VM) setBuffer(t, start, size uint32, data []byte) uint32 {
	if t != bufRequestBody && t != bufResponseBody {
		return statusNotFound
	}
	s := vm.streams[vm.effective]
	if s == nil {
		return statusNotFound
	}
	d := s.dir(t == bufResponseBody)
	if !d.bodyVisible {
		return statusNotFound
	}
	switch {
	case start == 0:
		n := min(int(size), len(d.body))
		d.body = append(append([]byte(nil), data...), d.body[n:]...)
	case int(start) >= len(d.body) || start == math.MaxInt32:
		d.body = append(d.body, data...)
	default:
		return statusBadArgument
	}
	return statusOK
}

// headerMap resolves a map type against the current call; nil means the map
// is not available (Envoy's "map not available").
func (vm *VM) headerMap(t uint32) *Pairs {
	switch t {
	case mapHTTPCallResponseHeaders:
		if vm.callResp == nil {
			return nil
		}
		return &vm.callResp.headers
	case mapHTTPCallResponseTrlrs:
		if vm.callResp == nil {
			return nil
		}
		return &vm.callResp.trailers
	}
	s := vm.streams[vm.effective]
	if s == nil || t > mapResponseTrailers {
		return nil
	}
	d := s.dir(t >= mapResponseHeaders)
	if t == mapRequestHeaders || t == mapResponseHeaders {
		if !d.headersVisible && !s.inLog {
			return nil
		}
		return &d.headers
	}
	if !d.trailersVisible && !s.inLog {
		return nil
	}
	return &d.trailers
}

func (vm *VM) mutableHeaderMap(t uint32) *Pairs {
	if t == mapHTTPCallResponseHeaders || t == mapHTTPCallResponseTrlrs {
		return nil
	}
	return vm.headerMap(t)
}

// property answers proxy_get_property for a dotted path.
func (vm *VM) property(path string) ([]byte, bool) {
	h := vm.host
	switch path {
	case "plugin_name":
		return []byte(h.cfg.PluginName), true
	case "plugin_root_id":
		return []byte(h.cfg.RootID), true
	case "plugin_vm_id":
		return []byte(h.cfg.VMID), true
	}
	if s := vm.streams[vm.effective]; s != nil && strings.HasPrefix(path, "request.") {
		hdr := s.requestHeadersCopy
		get := func(k string) []byte { v, _ := hdr.Get(k); return []byte(v) }
		switch strings.TrimPrefix(path, "request.") {
		case "path":
			return get(":path"), true
		case "url_path":
			p, _, _ := strings.Cut(string(get(":path")), "?")
			return []byte(p), true
		case "method":
			return get(":method"), true
		case "host":
			return get(":authority"), true
		case "scheme":
			return get(":scheme"), true
		case "id":
			return get("x-request-id"), true
		case "protocol":
			return []byte("HTTP/1.1"), true
		}
	}
	if s := vm.streams[vm.effective]; s != nil {
		if v, ok := s.filterState["wasm."+path]; ok {
			return v, true
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.cfg.Properties[path]
	return v, ok
}

func (h *Host) setProperty(path string, v []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cfg.Properties == nil {
		h.cfg.Properties = map[string][]byte{}
	}
	h.cfg.Properties[path] = v
}

// --- shared data, queues, metrics -----------------------------------------

type sharedValue struct {
	value []byte
	cas   uint32
}

func (h *Host) getShared(key string) (sharedValue, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.shared[key]
	return v, ok
}

// setShared: cas 0 always writes; a non-zero cas must match an existing
// key's; a new key ignores cas. Each write takes a new cas.
func (h *Host) setShared(key string, val []byte, cas uint32) uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur, ok := h.shared[key]; ok && cas != 0 && cas != cur.cas {
		return statusCasMismatch
	}
	h.cas++
	h.shared[key] = sharedValue{value: val, cas: h.cas}
	return statusOK
}

type queue struct {
	name  string
	owner *VM
	items [][]byte
}

func (h *Host) registerQueue(name string, vm *VM) uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, q := range h.queues {
		if q.name == name {
			q.owner = vm
			return uint32(i + 1)
		}
	}
	h.queues = append(h.queues, &queue{name: name, owner: vm})
	return uint32(len(h.queues))
}

func (h *Host) resolveQueue(name string) (uint32, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, q := range h.queues {
		if q.name == name {
			return uint32(i + 1), true
		}
	}
	return 0, false
}

func (h *Host) enqueue(caller *VM, id uint32, val []byte) uint32 {
	h.mu.Lock()
	if id == 0 || int(id) > len(h.queues) {
		h.mu.Unlock()
		return statusNotFound
	}
	q := h.queues[id-1]
	q.items = append(q.items, val)
	owner := q.owner
	h.mu.Unlock()
	notify := func() {
		owner.callLocked(context.Background(), owner.rootID, "proxy_on_queue_ready", uint64(owner.rootID), uint64(id))
	}
	if owner == caller {
		caller.deferAction(notify)
	} else {
		go func() {
			growStack(1)
			owner.mu.Lock()
			defer owner.mu.Unlock()
			notify()
			owner.runDeferredLocked(context.Background())
		}()
	}
	return statusOK
}

func (h *Host) dequeue(id uint32) ([]byte, uint32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id == 0 || int(id) > len(h.queues) {
		return nil, statusNotFound
	}
	q := h.queues[id-1]
	if len(q.items) == 0 {
		return nil, statusEmpty
	}
	v := q.items[0]
	q.items = q.items[1:]
	return v, statusOK
}

type metric struct {
	name    string
	kind    uint32
	value   uint64
	samples []uint64
}

// defineMetric returns an id whose low two bits are the metric type, as
// Envoy's do; redefining a name gives the same stat.
func (h *Host) defineMetric(kind uint32, name string) uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.defineCalls++
	key := fmt.Sprint(kind, name)
	if id, ok := h.metricIDs[key]; ok {
		return id
	}
	h.metrics = append(h.metrics, &metric{name: name, kind: kind})
	id := uint32(len(h.metrics))<<2 | kind
	h.metricIDs[key] = id
	return id
}

func (h *Host) metricByID(id uint32) *metric {
	i := int(id>>2) - 1
	if i < 0 || i >= len(h.metrics) || h.metrics[i].kind != id&3 {
		return nil
	}
	return h.metrics[i]
}

func (h *Host) incrementMetric(id uint32, delta int64) uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.metricByID(id)
	switch {
	case m == nil:
		return statusNotFound
	case m.kind == metricCounter && delta <= 0, m.kind == metricHistogram:
		return statusBadArgument
	}
	m.value = uint64(int64(m.value) + delta)
	return statusOK
}

func (h *Host) recordMetric(id uint32, v uint64) uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.metricByID(id)
	switch {
	case m == nil:
		return statusNotFound
	case m.kind == metricCounter:
		m.value += v // Envoy adds for counters
	case m.kind == metricGauge:
		m.value = v
	default:
		m.samples = append(m.samples, v)
	}
	return statusOK
}

func (h *Host) getMetric(id uint32) (uint64, uint32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.metricByID(id)
	switch {
	case m == nil:
		return 0, statusNotFound
	case m.kind == metricHistogram:
		return 0, statusBadArgument
	}
	return m.value, statusOK
}

// Metric returns a counter's or gauge's value by name (under Envoy's
// "wasmcustom." prefix or without it).
func (h *Host) Metric(name string) (uint64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	name = strings.TrimPrefix(name, "wasmcustom.")
	for _, m := range h.metrics {
		if m.name == name && m.kind != metricHistogram {
			return m.value, true
		}
	}
	return 0, false
}

// DefineMetricCalls counts proxy_define_metric calls, so tests can check
// a module defines each name once per VM rather than once per request.
func (h *Host) DefineMetricCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.defineCalls
}

// HistogramSamples returns what was recorded into a histogram.
func (h *Host) HistogramSamples(name string) []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.metrics {
		if m.name == name && m.kind == metricHistogram {
			return append([]uint64(nil), m.samples...)
		}
	}
	return nil
}

// SharedData returns a shared-data value and its cas.
func (h *Host) SharedData(key string) ([]byte, uint32, bool) {
	v, ok := h.getShared(key)
	return v.value, v.cas, ok
}

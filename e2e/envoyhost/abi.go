package envoyhost

import (
	"encoding/binary"
	"errors"
)

// Status codes of proxy-wasm ABI 0.2.1 (plus Envoy's BrokenConnection).
const (
	statusOK                   = 0
	statusNotFound             = 1
	statusBadArgument          = 2
	statusSerializationFailure = 3
	statusInvalidMemoryAccess  = 6
	statusEmpty                = 7
	statusCasMismatch          = 8
	statusInternalFailure      = 10
	statusBrokenConnection     = 11
	statusUnimplemented        = 12
)

// Actions returned by stream callbacks.
const (
	actionContinue = 0
	actionPause    = 1
)

// Map, buffer and stream types.
const (
	mapRequestHeaders          = 0
	mapRequestTrailers         = 1
	mapResponseHeaders         = 2
	mapResponseTrailers        = 3
	mapHTTPCallResponseHeaders = 6
	mapHTTPCallResponseTrlrs   = 7

	bufRequestBody          = 0
	bufResponseBody         = 1
	bufHTTPCallResponseBody = 4
	bufVMConfiguration      = 6
	bufPluginConfiguration  = 7

	streamRequest  = 0
	streamResponse = 1
)

// Metric types.
const (
	metricCounter   = 0
	metricGauge     = 1
	metricHistogram = 2
)

// Log levels, TRACE 0 … CRITICAL 5.
type LogLevel uint32

const (
	LevelTrace LogLevel = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
	LevelCritical
)

func (l LogLevel) String() string {
	switch l {
	case LevelTrace:
		return "trace"
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	case LevelCritical:
		return "critical"
	}
	return "unknown"
}

// abiHostFunctions are the env.proxy_* functions of ABI 0.2.1 that Envoy
// provides. A module importing anything else from "env" does not load.
var abiHostFunctions = []string{
	"proxy_done", "proxy_set_effective_context",
	"proxy_log", "proxy_get_log_level", "proxy_get_current_time_nanoseconds", "proxy_set_tick_period_milliseconds",
	"proxy_get_buffer_bytes", "proxy_set_buffer_bytes", "proxy_get_buffer_status",
	"proxy_get_header_map_size", "proxy_get_header_map_pairs", "proxy_set_header_map_pairs",
	"proxy_get_header_map_value", "proxy_add_header_map_value", "proxy_replace_header_map_value",
	"proxy_remove_header_map_value",
	"proxy_continue_stream", "proxy_close_stream", "proxy_get_status",
	"proxy_send_local_response",
	"proxy_http_call",
	"proxy_grpc_call", "proxy_grpc_stream", "proxy_grpc_send", "proxy_grpc_cancel", "proxy_grpc_close",
	"proxy_set_shared_data", "proxy_get_shared_data",
	"proxy_register_shared_queue", "proxy_resolve_shared_queue", "proxy_enqueue_shared_queue", "proxy_dequeue_shared_queue",
	"proxy_define_metric", "proxy_increment_metric", "proxy_record_metric", "proxy_get_metric",
	"proxy_get_property", "proxy_set_property",
	"proxy_call_foreign_function",
}

// EnvoyVersion selects which WASI surface the host offers.
type EnvoyVersion int

const (
	// Envoy133 is Envoy 1.33–1.38 (proxy-wasm-cpp-host #427): the module
	// loads, but poll_oneoff fails with ENOSYS and the Go runtime throws.
	Envoy133 EnvoyVersion = iota
	// Envoy139 is Envoy 1.39+ (cpp-host #533): poll_oneoff reports zero
	// events, so sleeps busy-spin instead of crashing.
	Envoy139
)

func (v EnvoyVersion) String() string {
	if v == Envoy139 {
		return "Envoy 1.39"
	}
	return "Envoy 1.33"
}

// wasi133 is the wasi_snapshot_preview1 subset of Envoy 1.33–1.38.
var wasi133 = []string{
	"sched_yield", "proc_exit", "args_get", "args_sizes_get", "clock_time_get",
	"environ_get", "environ_sizes_get", "fd_write", "random_get", "poll_oneoff",
	"fd_close", "fd_fdstat_get", "fd_fdstat_set_flags", "fd_prestat_get", "fd_prestat_dir_name",
	"fd_read", "fd_seek", "path_open",
}

// wasi139Extra is what Envoy 1.39 adds, all stubs.
var wasi139Extra = []string{
	"clock_res_get", "fd_advise", "fd_allocate", "fd_datasync", "fd_fdstat_set_rights",
	"fd_filestat_get", "fd_filestat_set_size", "fd_filestat_set_times", "fd_pread", "fd_pwrite",
	"fd_readdir", "fd_renumber", "fd_sync", "fd_tell",
	"path_create_directory", "path_filestat_get", "path_filestat_set_times", "path_link",
	"path_readlink", "path_remove_directory", "path_rename", "path_symlink", "path_unlink_file",
	"sock_accept", "sock_recv", "sock_send", "sock_shutdown",
}

func wasiFunctions(v EnvoyVersion) []string {
	if v == Envoy139 {
		return append(append([]string(nil), wasi133...), wasi139Extra...)
	}
	return wasi133
}

// Pairs is an ordered header map; keys may repeat.
type Pairs [][2]string

// Get returns the first value of key, as Envoy's get_header_map_value does.
func (p Pairs) Get(key string) (string, bool) {
	for _, kv := range p {
		if kv[0] == key {
			return kv[1], true
		}
	}
	return "", false
}

// encodePairs serialises a header map the proxy-wasm way: u32 count, then
// (key_len, value_len) per pair, then each key and value followed by NUL.
func encodePairs(p Pairs) []byte {
	size := 4
	for _, kv := range p {
		size += 8 + len(kv[0]) + len(kv[1]) + 2
	}
	b := make([]byte, 4, size)
	binary.LittleEndian.PutUint32(b, uint32(len(p)))
	for _, kv := range p {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[1])))
	}
	for _, kv := range p {
		b = append(b, kv[0]...)
		b = append(b, 0)
		b = append(b, kv[1]...)
		b = append(b, 0)
	}
	return b
}

var errBadPairs = errors.New("malformed header map")

// decodePairs parses the serialisation of encodePairs. An empty input, or a
// single zero byte, is an empty map.
func decodePairs(b []byte) (Pairs, error) {
	if len(b) == 0 || (len(b) == 1 && b[0] == 0) {
		return nil, nil
	}
	if len(b) < 4 {
		return nil, errBadPairs
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n > (len(b)-4)/8 {
		return nil, errBadPairs
	}
	sizes := b[4 : 4+8*n]
	data := b[4+8*n:]
	out := make(Pairs, 0, n)
	for i := 0; i < n; i++ {
		kl := int(binary.LittleEndian.Uint32(sizes[8*i:]))
		vl := int(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		if kl+vl+2 > len(data) || kl < 0 || vl < 0 {
			return nil, errBadPairs
		}
		k := string(data[:kl])
		v := string(data[kl+1 : kl+1+vl])
		data = data[kl+vl+2:]
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

package envoyhost

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FailurePolicy is the Wasm filter's failure_policy: what happens to streams
// once the VM has failed.
type FailurePolicy int

const (
	// FailClosed answers 503 (details wasm_fail_stream) to every stream.
	FailClosed FailurePolicy = iota
	// FailOpen skips the filter.
	FailOpen
)

// Cluster is an upstream the router or proxy_http_call can reach.
type Cluster struct {
	// Addr is host:port, on loopback in tests.
	Addr string
	// TLS, when set, makes the cluster's transport socket TLS (upstream TLS
	// with SNI from ServerName).
	TLS *tls.Config
	// FailInline makes proxy_http_call to this cluster fail inline with
	// INTERNAL_FAILURE and no callback, as when Envoy's async client fails
	// synchronously.
	FailInline bool
	// Handler, when set, answers the cluster's requests in process, with
	// no socket (Addr and TLS are unused), for benchmarks.
	Handler http.Handler
	// CircuitBreaker is the cluster's circuit_breakers thresholds for the
	// default priority; nil means Envoy's defaults.
	CircuitBreaker *CircuitBreaker
}

// Route sends matching requests to Cluster: those whose path starts with
// Prefix, or, when Regex is set, whose path without the query matches it
// in full (Envoy's safe_regex).
type Route struct {
	Prefix  string
	Regex   *regexp.Regexp
	Cluster string
	// Timeout is the route timeout (Envoy's default is 15 s); on expiry the
	// router answers 504.
	Timeout time.Duration
	// Filter is the route's typed_per_filter_config for the Wasm filter
	// (an envoy.config.route.v3.FilterConfig): enable or disable it here.
	Filter RouteFilter
	// CaseInsensitive is the route match's case_sensitive: false. Like
	// Envoy, it applies to Prefix only: a Regex route is matched as written
	// (use (?i) in the regex).
	CaseInsensitive bool
	// JwtRequirement is the route's jwt_authn PerRouteConfig
	// requirement_name ("": jwt_authn's rules decide).
	JwtRequirement string
}

// Config describes one Envoy listener with one Wasm HTTP filter.
type Config struct {
	// PluginConfig is the filter's `configuration` (a StringValue, passed raw).
	PluginConfig []byte
	// VMConfig is vm_config.configuration.
	VMConfig []byte
	// Env is vm_config.environment_variables.key_values.
	Env map[string]string
	// Envoy selects the WASI surface (default Envoy 1.33).
	Envoy EnvoyVersion
	// AllowOnHeadersStopIteration emulates the PluginConfig field of that
	// name: a Pause from request headers stops only the headers, and the
	// filter still gets its body callbacks.
	AllowOnHeadersStopIteration bool
	// BufferLimit is the per-request buffer limit (default 1 MiB). A request
	// body buffered past it is answered 413, a response body 500.
	BufferLimit int
	// Clusters by name, for routes and for proxy_http_call.
	Clusters map[string]Cluster
	// Routes, first prefix match wins; no match is a 404.
	Routes []Route
	// Path is the connection manager's normalize_path, merge_slashes and
	// path_with_escaped_slashes_action, applied to :path before the route is
	// chosen and before any filter sees the request.
	Path PathNormalization
	// HeadersWithUnderscores is the connection manager's
	// common_http_protocol_options.headers_with_underscores_action.
	HeadersWithUnderscores UnderscoreAction
	// FailurePolicy of the filter (default fail closed).
	FailurePolicy FailurePolicy
	// FilterDisabled is http_filters[].disabled: the filter runs only on
	// routes whose Filter is RouteFilterEnabled (Envoy's route-based
	// filter chain); elsewhere the stream never enters the VM.
	FilterDisabled bool
	// StatsTags are stats_config.stats_tags, applied to metric names for
	// /stats/prometheus.
	StatsTags []StatsTag
	// AccessLog, when set, is written for every stream once it ends.
	AccessLog *AccessLog
	// Workers is the number of worker VMs (default 1). Envoy also starts a
	// canary VM that only starts and configures; so does the host.
	Workers int
	// PluginName, RootID and VMID are the plugin_name, plugin_root_id and
	// plugin_vm_id properties.
	PluginName, RootID, VMID string
	// JwtAuthn, when set, is Envoy's jwt_authn filter before the Wasm
	// filter: it may answer a request itself, and sets the dynamic metadata
	// the Wasm filter reads through metadata.* properties.
	JwtAuthn *JwtAuthn
	// Properties answers proxy_get_property for paths (segments joined with
	// "."), in addition to the request.* and plugin_* ones the host derives.
	Properties map[string][]byte
	// Logger, when set, receives every log line as it is written.
	Logger func(LogEntry)
	// Clock, when set, is the host's clock and drives tick timers
	// (TestClock.Advance runs the ticks that fall due).
	Clock *TestClock // nil: real time, and real per-root-context tick timers
}

// LogEntry is one line the plugin logged (proxy_log, or fd 1/2 via WASI).
type LogEntry struct {
	Level   LogLevel
	Message string
}

func (e LogEntry) String() string { return e.Level.String() + ": " + e.Message }

// Host is one Envoy with one Wasm filter: a canary VM that validated the
// configuration, then worker VMs that serve streams.
type Host struct {
	cfg     Config
	mod     *Module
	ownsMod bool
	workers []*VM
	next    atomic.Uint32

	mu          sync.Mutex // guards everything below
	logs        []LogEntry
	metrics     []*metric
	metricIDs   map[string]uint32
	shared      map[string]sharedValue
	cas         uint32
	queues      []*queue
	callouts    []CalloutRecord
	contextIDs  uint32
	inflight    sync.WaitGroup // callouts not yet delivered
	calls       []string
	accessLogs  []string
	defineCalls int
	// breakers is each cluster's circuit-breaker state (router and
	// callouts together).
	breakers  map[string]*breakerState
	overflows []string // clusters whose breaker refused a callout
}

// New starts a host for a compiled module: a canary VM runs _initialize,
// proxy_on_context_create(root, 0), proxy_on_vm_start and
// proxy_on_configure, and is discarded; then each worker VM does the same.
// If the plugin refuses its configuration, New fails as Envoy would reject
// the config, with the plugin's critical log lines in the error.
func New(ctx context.Context, mod *Module, cfg Config) (*Host, error) {
	if err := checkAccessLog(cfg.AccessLog); err != nil {
		return nil, err
	}
	if cfg.Envoy != mod.envoy {
		return nil, fmt.Errorf("host: module compiled for %s, config asks for %s", mod.envoy, cfg.Envoy)
	}
	if cfg.BufferLimit <= 0 {
		cfg.BufferLimit = 1 << 20
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.PluginName == "" {
		cfg.PluginName = "session-transfer"
	}
	if cfg.VMID == "" {
		cfg.VMID = "session-transfer"
	}
	h := &Host{cfg: cfg, mod: mod, metricIDs: map[string]uint32{}, shared: map[string]sharedValue{}, breakers: map[string]*breakerState{}}
	canary, err := h.startVM(ctx, "canary")
	if err != nil {
		return nil, err
	}
	canary.close(ctx)
	for i := 0; i < cfg.Workers; i++ {
		vm, err := h.startVM(ctx, fmt.Sprintf("worker_%d", i))
		if err != nil {
			h.Close(ctx)
			return nil, err
		}
		h.workers = append(h.workers, vm)
	}
	if cfg.Clock != nil {
		cfg.Clock.addHost(h)
	}
	return h, nil
}

// Start compiles wasm and starts a host for it; Close also closes the module.
func Start(ctx context.Context, wasm []byte, cfg Config) (*Host, error) {
	mod, err := Compile(ctx, wasm, cfg.Envoy)
	if err != nil {
		return nil, err
	}
	h, err := New(ctx, mod, cfg)
	if err != nil {
		mod.Close(ctx)
		return nil, err
	}
	h.ownsMod = true
	return h, nil
}

// Close stops the worker VMs. Outstanding callouts are dropped, as when
// Envoy destroys the root context.
func (h *Host) Close(ctx context.Context) error {
	if h.cfg.Clock != nil {
		h.cfg.Clock.removeHost(h)
	}
	for _, vm := range h.workers {
		vm.close(ctx)
	}
	if h.ownsMod {
		return h.mod.Close(ctx)
	}
	return nil
}

// Worker returns worker VM i.
func (h *Host) Worker(i int) *VM { return h.workers[i] }

func (h *Host) pickWorker() *VM {
	n := h.next.Add(1) - 1
	return h.workers[int(n)%len(h.workers)]
}

func (h *Host) log(level LogLevel, msg string) {
	e := LogEntry{Level: level, Message: msg}
	h.mu.Lock()
	h.logs = append(h.logs, e)
	h.mu.Unlock()
	if h.cfg.Logger != nil {
		h.cfg.Logger(e)
	}
}

// Logs returns every log line so far.
func (h *Host) Logs() []LogEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]LogEntry(nil), h.logs...)
}

// LogsAt returns the messages logged at exactly level.
func (h *Host) LogsAt(level LogLevel) []string {
	var out []string
	for _, e := range h.Logs() {
		if e.Level == level {
			out = append(out, e.Message)
		}
	}
	return out
}

// LogText is every log line, one per line, for failure messages.
func (h *Host) LogText() string {
	var b strings.Builder
	for _, e := range h.Logs() {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Callouts returns every proxy_http_call the plugin dispatched successfully.
func (h *Host) Callouts() []CalloutRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]CalloutRecord(nil), h.callouts...)
}

// CalloutOverflows lists, in order, the cluster of every proxy_http_call a
// full circuit breaker refused.
func (h *Host) CalloutOverflows() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.overflows...)
}

func (h *Host) newContextID() uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.contextIDs++
	return h.contextIDs
}

func (h *Host) trace(vm, name string, args []uint64) {
	var b strings.Builder
	b.WriteString(vm)
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteByte('(')
	for i, a := range args {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, a)
	}
	b.WriteByte(')')
	h.mu.Lock()
	h.calls = append(h.calls, b.String())
	h.mu.Unlock()
}

// Calls lists every callback the host made into the module, in order, as
// "<vm> <export>(<args>)", for example "worker_0 proxy_on_log(3)".
func (h *Host) Calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}

// Command probe is a purpose-built plugin for the host's own tests. Each
// request picks a behaviour with the x-probe header, so one module covers
// every Envoy semantic the host must reproduce. It goes through the same
// standard-Go bridge as the product plugin.
package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	_ "github.com/firmly/session-transfer-filter/plugin/bridge"
)

func main() {}

var tickOnce bool

func init() {
	// Environment variables are readable during _initialize.
	if os.Getenv("PROBE_INIT_HOSTCALL") == "1" {
		// Not allowed while Envoy runs _initialize: traps the module load.
		proxywasm.GetProperty([]string{"plugin_name"})
	}
	// PROBE_INIT_WASI names a WASI call to make from _initialize, where
	// cpp-host allows only a fixed list.
	callWASI(os.Getenv("PROBE_INIT_WASI"))
	started = time.Now()
	proxywasm.SetVMContext(&vm{})
}

// started is when _initialize ran, for the monotonic clock.
var started time.Time

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(id uint32) types.PluginContext { return &plugin{id: id} }

type plugin struct {
	types.DefaultPluginContext
	id    uint32
	ticks int
}

func (p *plugin) OnPluginStart(size int) types.OnPluginStartStatus {
	cfg, err := proxywasm.GetPluginConfiguration()
	tickOnce = string(cfg) == "tick-once"
	if err != nil && size > 0 {
		proxywasm.LogCriticalf("probe: read configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	proxywasm.LogInfof("probe: plugin %d started with %q", p.id, cfg)
	switch string(cfg) {
	case "refuse":
		proxywasm.LogCritical("probe: configuration refused")
		return types.OnPluginStartStatusFailed
	case "tick":
		proxywasm.SetTickPeriodMilliSeconds(250)
	case "tick-once":
		// The first tick disables the timer.
		proxywasm.SetTickPeriodMilliSeconds(100)
	}
	return types.OnPluginStartStatusOK
}

func (p *plugin) OnTick() {
	p.ticks++
	proxywasm.LogInfof("probe: tick %d at %s", p.ticks, time.Now().UTC().Format(time.RFC3339Nano))
	if p.ticks == 1 && tickOnce {
		proxywasm.SetTickPeriodMilliSeconds(0)
	}
}

func (p *plugin) NewHttpContext(id uint32) types.HttpContext {
	return &stream{root: p.id, id: id}
}

type stream struct {
	types.DefaultHttpContext
	root, id uint32
	mode     string
	sizes    []string
	eos      bool
}

func (s *stream) respond(status uint32, body string) {
	if err := proxywasm.SendHttpResponse(status, [][2]string{{"x-probe", s.mode}}, []byte(body), -1); err != nil {
		proxywasm.LogErrorf("probe: send response: %v", err)
	}
}

func header(key string) string {
	v, _ := proxywasm.GetHttpRequestHeader(key)
	return v
}

func (s *stream) OnHttpRequestHeaders(n int, eos bool) types.Action {
	s.mode = header("x-probe")
	proxywasm.LogInfof("probe: %d request headers n=%d eos=%v mode=%s", s.id, n, eos, s.mode)
	switch s.mode {
	case "echo-headers":
		hs, _ := proxywasm.GetHttpRequestHeaders()
		var b strings.Builder
		for _, kv := range hs {
			fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
		}
		fmt.Fprintf(&b, "first x-dup=%s\n", header("x-dup"))
		s.respond(200, b.String())
		return types.ActionPause
	case "local-and-continue":
		s.respond(403, "denied")
		return types.ActionContinue // a local response forces Stop anyway
	case "pause-headers":
		return types.ActionPause
	case "pause-then-callout":
		s.callout(func(status string) {
			proxywasm.LogInfof("probe: callout answered %s, resuming", status)
			proxywasm.ResumeHttpRequest()
		})
		return types.ActionPause
	case "callout":
		s.callout(func(status string) { s.respond(200, status) })
		return types.ActionPause
	case "callout-bad":
		return s.badCallouts()
	case "root-local-response":
		s.callout(func(string) {
			// Acting on the root context is a silent no-op in Envoy.
			proxywasm.SetEffectiveContext(s.root)
			err := proxywasm.SendHttpResponse(500, nil, []byte("from root"), -1)
			proxywasm.SetEffectiveContext(s.id)
			s.respond(200, fmt.Sprintf("root send err=%v", err))
		})
		return types.ActionPause
	case "callout-after-cancel":
		s.callout(func(string) {
			proxywasm.LogCritical("probe: callback ran for a deleted stream")
		})
		return types.ActionPause
	case "sleep":
		time.Sleep(10 * time.Millisecond)
		s.respond(200, "slept")
		return types.ActionPause
	case "panic":
		panic("probe: boom")
	case "gc", "forced-gc":
		return types.ActionContinue
	case "random":
		n, _ := strconv.Atoi(header("x-probe-bytes"))
		b := make([]byte, n)
		rand.Read(b) // above 64 KiB random_get fails, and Go treats that as fatal
		s.respond(200, fmt.Sprintf("random %d bytes", n))
		return types.ActionPause
	case "print":
		fmt.Println("probe: to stdout")
		fmt.Fprintln(os.Stderr, "probe: to stderr")
		s.respond(200, "printed")
		return types.ActionPause
	case "churn":
		// Ordinary garbage, no forced GC: the runtime collects on its own.
		n, _ := strconv.Atoi(header("x-probe-bytes"))
		s.respond(200, fmt.Sprintf("churned %d", garbage(n)))
		return types.ActionPause
	case "close":
		proxywasm.CloseDownstream() // proxy_close_stream: Envoy resets the stream
		return types.ActionPause
	case "metrics":
		s.respond(200, metrics())
		return types.ActionPause
	case "properties":
		name, err1 := proxywasm.GetProperty([]string{"plugin_name"})
		path, err2 := proxywasm.GetProperty([]string{"request", "path"})
		_, err3 := proxywasm.GetProperty([]string{"no", "such"})
		s.respond(200, fmt.Sprintf("plugin_name=%s(%v) path=%s(%v) missing=%v", name, err1, path, err2, err3))
		return types.ActionPause
	case "hostcalls":
		s.respond(200, everyHostcall(s.root, s.id))
		return types.ActionPause
	case "header-map-size":
		var size uint32
		status := rawHeaderMapSize(0, &size)
		hs, _ := proxywasm.GetHttpRequestHeaders()
		sum := 0
		for _, kv := range hs {
			sum += len(kv[0]) + len(kv[1])
		}
		s.respond(200, fmt.Sprintf("status=%d size=%d sum=%d", status, size, sum))
		return types.ActionPause
	case "callout-header-size":
		s.callout(func(string) {
			var size uint32
			s.respond(200, fmt.Sprintf("status=%d", rawHeaderMapSize(6, &size)))
		})
		return types.ActionPause
	case "proxy-done":
		s.respond(200, fmt.Sprintf("status=%d", rawProxyDone()))
		return types.ActionPause
	case "body-in-headers":
		status, size := rawBodySize()
		s.respond(200, fmt.Sprintf("status=%d size=%d", status, size))
		return types.ActionPause
	case "callout-panic":
		s.callout(func(string) { panic("probe: boom in the callout callback") })
		return types.ActionPause
	case "print-pieces":
		os.Stderr.Write([]byte("piece one, "))
		os.Stderr.Write([]byte("piece two\n"))
		os.Stdout.Write([]byte("line a\nline b\n"))
		s.respond(200, "printed")
		return types.ActionPause
	case "now":
		s.respond(200, fmt.Sprintf("now=%s since-start=%s", time.Now().UTC().Format(time.RFC3339Nano), time.Since(started)))
		return types.ActionPause
	case "set-tick":
		ms, _ := strconv.Atoi(header("x-probe-tick"))
		err := proxywasm.SetTickPeriodMilliSeconds(uint32(ms))
		s.respond(200, fmt.Sprintf("tick period %d: %v", ms, err))
		return types.ActionPause
	case "filter-state":
		// A single-segment property on a stream is filter state wasm.<key>.
		err := proxywasm.SetProperty([]string{"probe.state"}, []byte("v1"))
		v, gerr := proxywasm.GetProperty([]string{"probe.state"})
		s.respond(200, fmt.Sprintf("set=%v get=%s(%v)", err, v, gerr))
		return types.ActionPause
	case "filter-state-get":
		v, err := proxywasm.GetProperty([]string{"probe.state"})
		s.respond(200, fmt.Sprintf("get=%s(%v)", v, err))
		return types.ActionPause
	}
	return types.ActionContinue
}

// callout dispatches to the cluster in x-probe-cluster and reports
// "status=<:status> headers=<n> body=<body>" to done.
func (s *stream) callout(done func(string)) {
	cluster := header("x-probe-cluster")
	timeout, _ := strconv.Atoi(header("x-probe-timeout"))
	hs := [][2]string{{":method", "GET"}, {":path", header("x-probe-path")}, {":authority", "upstream.test"}}
	_, err := proxywasm.DispatchHttpCall(cluster, hs, nil, nil, uint32(timeout), func(n, size, _ int) {
		hs, herr := proxywasm.GetHttpCallResponseHeaders()
		body, _ := proxywasm.GetHttpCallResponseBody(0, size)
		status := ""
		for _, kv := range hs {
			if kv[0] == ":status" {
				status = kv[1]
			}
		}
		done(fmt.Sprintf("status=%s headers=%d herr=%v body=%s", status, n, herr, body))
	})
	if err != nil {
		s.respond(500, "dispatch: "+err.Error())
	}
}

func (s *stream) badCallouts() types.Action {
	cb := func(int, int, int) {}
	ok := [][2]string{{":method", "GET"}, {":path", "/"}, {":authority", "a"}}
	var out []string
	for _, c := range []struct {
		name, cluster string
		hs            [][2]string
	}{
		{"unknown cluster", "nope", ok},
		{"no :authority", header("x-probe-cluster"), ok[:2]},
		{"no :path", header("x-probe-cluster"), [][2]string{ok[0], ok[2]}},
		{"no :method", header("x-probe-cluster"), ok[1:]},
	} {
		_, err := proxywasm.DispatchHttpCall(c.cluster, c.hs, nil, nil, 1000, cb)
		out = append(out, fmt.Sprintf("%s: %v", c.name, err))
	}
	s.respond(200, strings.Join(out, "\n"))
	return types.ActionPause
}

func (s *stream) OnHttpRequestBody(size int, eos bool) types.Action {
	proxywasm.LogInfof("probe: %d request body size=%d eos=%v", s.id, size, eos)
	s.sizes = append(s.sizes, strconv.Itoa(size))
	switch s.mode {
	case "buffer-body", "pause-headers", "pause-then-callout":
		if !eos {
			return types.ActionPause
		}
		body, _ := proxywasm.GetHttpRequestBody(0, size)
		s.respond(200, fmt.Sprintf("sizes=%s body=%s", strings.Join(s.sizes, ","), body))
		return types.ActionPause
	case "gc", "forced-gc":
		// Read the body again and again under GC pressure: every buffer the
		// host hands over must stay intact until the SDK has copied it.
		var first []byte
		for i := 0; i < 50; i++ {
			b, err := proxywasm.GetHttpRequestBody(0, size)
			if s.mode == "forced-gc" {
				sink = make([]byte, 16<<20) // memory for the scavenger to return
				sink = nil
				runtime.GC()
			} else {
				garbage(1 << 20)
			}
			if err != nil || (first != nil && string(b) != string(first)) {
				s.respond(500, fmt.Sprintf("read %d differs: %v", i, err))
				return types.ActionPause
			}
			first = append([]byte(nil), b...)
		}
		if eos {
			s.respond(200, fmt.Sprintf("gc ok %d bytes", len(first)))
		}
		return types.ActionPause
	}
	return types.ActionContinue
}

func (s *stream) OnHttpRequestTrailers(n int) types.Action {
	proxywasm.LogInfof("probe: %d request trailers n=%d", s.id, n)
	if s.mode == "buffer-body" {
		body, _ := proxywasm.GetHttpRequestBody(0, 1<<20)
		t, _ := proxywasm.GetHttpRequestTrailer("x-trailer")
		s.respond(200, fmt.Sprintf("sizes=%s trailers x-trailer=%s body=%s", strings.Join(s.sizes, ","), t, body))
		return types.ActionPause
	}
	return types.ActionContinue
}

func (s *stream) OnHttpResponseHeaders(n int, eos bool) types.Action {
	proxywasm.AddHttpResponseHeader("x-probe-saw-response", "yes")
	return types.ActionContinue
}

func (s *stream) OnHttpStreamDone() {
	proxywasm.LogInfof("probe: %d done", s.id)
}

func metrics() string {
	c := proxywasm.DefineCounterMetric("probe_requests")
	c.Increment(2)
	c.Increment(3)
	g := proxywasm.DefineGaugeMetric("probe_gauge")
	g.Add(10)
	g.Add(-4)
	h := proxywasm.DefineHistogramMetric("probe_hist")
	h.Record(7)
	h.Record(9)
	setErr1 := proxywasm.SetSharedData("k", []byte("v1"), 0)
	v, cas, getErr := proxywasm.GetSharedData("k")
	staleErr := proxywasm.SetSharedData("k", []byte("v2"), cas+100)
	okErr := proxywasm.SetSharedData("k", []byte("v3"), cas)
	v3, _, _ := proxywasm.GetSharedData("k")
	_, _, missErr := proxywasm.GetSharedData("missing")
	return fmt.Sprintf("counter=%d gauge=%d set=%v get=%s(%v) stale=%v cas-ok=%v now=%s missing=%v",
		c.Value(), g.Value(), setErr1, v, getErr, staleErr, okErr, v3, missErr)
}

// everyHostcall touches each hostcall the SDK can make once, so a test can
// see that every bridge method reaches its env.proxy_* import.
func everyHostcall(root, id uint32) string {
	var r []string
	add := func(name string, err error) { r = append(r, fmt.Sprintf("%s=%v", name, err)) }
	proxywasm.LogDebug("probe: every hostcall")
	add("set_property", proxywasm.SetProperty([]string{"probe", "x"}, []byte("1")))
	_, err := proxywasm.GetProperty([]string{"probe", "x"})
	add("get_property", err)
	add("set_shared", proxywasm.SetSharedData("hc", []byte("1"), 0))
	_, _, err = proxywasm.GetSharedData("hc")
	add("get_shared", err)
	q, err := proxywasm.RegisterSharedQueue("probe-q")
	add("register_queue", err)
	_, err = proxywasm.ResolveSharedQueue("", "probe-q")
	add("resolve_queue", err)
	add("enqueue", proxywasm.EnqueueSharedQueue(q, []byte("item")))
	item, err := proxywasm.DequeueSharedQueue(q)
	add("dequeue("+string(item)+")", err)
	_, err = proxywasm.GetHttpRequestHeader("x-probe")
	add("get_header", err)
	add("add_header", proxywasm.AddHttpRequestHeader("x-added", "1"))
	add("replace_header", proxywasm.ReplaceHttpRequestHeader("x-added", "2"))
	add("remove_header", proxywasm.RemoveHttpRequestHeader("x-added"))
	hs, err := proxywasm.GetHttpRequestHeaders()
	add("get_headers", err)
	add("set_headers", proxywasm.ReplaceHttpRequestHeaders(hs))
	_, err = proxywasm.GetHttpRequestBody(0, 10)
	add("get_body", err)
	add("set_body", proxywasm.AppendHttpRequestBody([]byte("x")))
	_, err = proxywasm.CallForeignFunction("nope", nil)
	add("foreign", err)
	add("tick", proxywasm.SetTickPeriodMilliSeconds(0))
	add("effective_root", proxywasm.SetEffectiveContext(root))
	add("effective_stream", proxywasm.SetEffectiveContext(id))
	add("effective_unknown", proxywasm.SetEffectiveContext(999999))
	proxywasm.SetEffectiveContext(id)
	proxywasm.PluginDone()
	c := proxywasm.DefineCounterMetric("hc_counter")
	c.Increment(1)
	proxywasm.DefineGaugeMetric("hc_gauge").Add(1)
	proxywasm.DefineHistogramMetric("hc_hist").Record(1)
	r = append(r, fmt.Sprintf("metric=%d", c.Value()))
	_, err = proxywasm.DispatchHttpCall("nope", nil, nil, nil, 1, func(int, int, int) {})
	add("http_call", err)
	return strings.Join(r, "\n")
}

var sink []byte

// garbage allocates n bytes in 4 KiB pieces that die at once, so the
// runtime collects on its own.
func garbage(n int) int {
	sum := 0
	for i := 0; i < n/4096; i++ {
		sink = make([]byte, 4096)
		sink[i%4096] = byte(i)
		sum += int(sink[i%4096])
	}
	sink = nil
	return sum
}

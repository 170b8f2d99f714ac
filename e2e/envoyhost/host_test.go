package envoyhost

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/wasmbuild"
)

func probeWasm(t *testing.T) []byte { return wasmbuild.ForTest(t, "./testdata/probe") }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startProbe(t *testing.T, cfg Config) *Host {
	t.Helper()
	h, err := Start(testCtx(t), probeWasm(t), cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

func do(t *testing.T, h *Host, r *Request) *Response {
	t.Helper()
	resp, err := h.Do(testCtx(t), r)
	if err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, h.LogText())
	}
	return resp
}

func probe(mode string, hs ...[2]string) Pairs {
	return append(Pairs{{"x-probe", mode}}, hs...)
}

// recorder is an upstream that records what reached it.
type recorder struct {
	mu       sync.Mutex
	requests []string
	bodyErrs []error
	bodies   []string
	srv      *httptest.Server
}

func newRecorder(t *testing.T, handler func(w http.ResponseWriter, r *http.Request)) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.requests = append(rec.requests, r.Method+" "+r.URL.RequestURI())
		rec.mu.Unlock()
		if handler != nil {
			handler(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, string(body))
		rec.bodyErrs = append(rec.bodyErrs, err)
		rec.mu.Unlock()
		if err == nil {
			w.Write([]byte("upstream says hi"))
		}
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (r *recorder) addr() string { return strings.TrimPrefix(r.srv.URL, "http://") }

func (r *recorder) snapshot() ([]string, []string, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requests...), append([]string(nil), r.bodies...), append([]error(nil), r.bodyErrs...)
}

func withUpstream(cfg Config, rec *recorder) Config {
	if cfg.Clusters == nil {
		cfg.Clusters = map[string]Cluster{}
	}
	cfg.Clusters["app"] = Cluster{Addr: rec.addr()}
	cfg.Routes = []Route{{Prefix: "/", Cluster: "app"}}
	return cfg
}

func TestModuleExportsTheABIAndImportsOnlyWhatEnvoyHas(t *testing.T) {
	mod, err := Compile(testCtx(t), probeWasm(t), Envoy133)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(context.Background())
	if got := mod.ABIVersion(); got != "proxy_abi_version_0_2_1" {
		t.Errorf("ABI version export: got %q, want proxy_abi_version_0_2_1", got)
	}
	exports := mod.Exports()
	for _, want := range []string{
		"_initialize", "proxy_on_memory_allocate", "proxy_on_context_create", "proxy_on_vm_start",
		"proxy_on_configure", "proxy_on_tick", "proxy_on_queue_ready", "proxy_on_log", "proxy_on_done",
		"proxy_on_delete", "proxy_on_request_headers", "proxy_on_request_body", "proxy_on_request_trailers",
		"proxy_on_response_headers", "proxy_on_response_body", "proxy_on_response_trailers",
		"proxy_on_http_call_response", "proxy_on_new_connection", "proxy_on_downstream_data",
		"proxy_on_upstream_data", "proxy_on_downstream_connection_close", "proxy_on_upstream_connection_close",
	} {
		if !slices.Contains(exports, want) {
			t.Errorf("module does not export %s", want)
		}
	}
	// Every hostcall the SDK can make must reach a real import; a missing one
	// would mean the linker replaced the bridge method with a trap.
	imports := mod.Imports()
	for _, want := range SDKHostcalls {
		if !slices.Contains(imports, "env."+want) {
			t.Errorf("module does not import env.%s", want)
		}
	}
}

func TestRefusesModuleWhoseImportsEnvoy133Lacks(t *testing.T) {
	wasm := wasmbuild.ForTest(t, "./testdata/fileio")
	_, err := Compile(testCtx(t), wasm, Envoy133)
	if err == nil {
		t.Fatal("Envoy 1.33 host accepted a module that imports file-system calls")
	}
	for _, want := range []string{"wasi_snapshot_preview1.path_filestat_get"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	mod, err := Compile(testCtx(t), wasm, Envoy139)
	if err != nil {
		t.Fatalf("Envoy 1.39 host refused the module: %v", err)
	}
	mod.Close(context.Background())
}

func TestStartsLikeEnvoyCanaryThenWorker(t *testing.T) {
	h := startProbe(t, Config{PluginConfig: []byte("hello"), VMConfig: []byte("vm")})
	calls := h.Calls()
	want := []string{
		"canary _initialize()", "canary proxy_on_context_create(1,0)", "canary proxy_on_vm_start(1,2)", "canary proxy_on_configure(1,5)",
		"worker_0 _initialize()", "worker_0 proxy_on_context_create(2,0)", "worker_0 proxy_on_vm_start(2,2)", "worker_0 proxy_on_configure(2,5)",
	}
	if !slices.Equal(calls, want) {
		t.Errorf("start-up calls:\ngot  %q\nwant %q", calls, want)
	}
	if got := h.LogsAt(LevelInfo); !slices.Contains(got, `probe: plugin 2 started with "hello"`) {
		t.Errorf("plugin configuration not read in proxy_on_configure; info logs %q", got)
	}
}

func TestPluginThatRefusesItsConfigurationDoesNotStart(t *testing.T) {
	_, err := Start(testCtx(t), probeWasm(t), Config{PluginConfig: []byte("refuse")})
	if err == nil || !strings.Contains(err.Error(), "probe: configuration refused") {
		t.Fatalf("got %v, want a start failure carrying the critical log line", err)
	}
}

func TestHostcallDuringInitializeTraps(t *testing.T) {
	_, err := Start(testCtx(t), probeWasm(t), Config{Env: map[string]string{"PROBE_INIT_HOSTCALL": "1"}})
	if err == nil || !strings.Contains(err.Error(), "restricted_callback: proxy_get_property") {
		t.Fatalf("got %v, want the module load to trap on proxy_get_property", err)
	}
}

func TestStreamCallbacksFollowEnvoysOrder(t *testing.T) {
	rec := newRecorder(t, nil)
	h := startProbe(t, withUpstream(Config{}, rec))
	resp := do(t, h, &Request{Method: "POST", Path: "/pass", Body: []byte("abc"), Headers: probe("pass")})
	if resp.Status != 200 || string(resp.Body) != "upstream says hi" {
		t.Fatalf("got %d %q, want 200 from the upstream", resp.Status, resp.Body)
	}
	var got []string
	for _, c := range h.Calls() {
		if strings.HasPrefix(c, "worker_0 ") {
			got = append(got, strings.TrimPrefix(c, "worker_0 "))
		}
	}
	want := []string{
		"_initialize()", "proxy_on_context_create(2,0)", "proxy_on_vm_start(2,0)", "proxy_on_configure(2,0)",
		"proxy_on_context_create(3,2)", "proxy_on_request_headers(3,5,0)", "proxy_on_request_body(3,3,1)",
		"proxy_on_response_headers(3,4,0)", "proxy_on_response_body(3,16,1)",
		"proxy_on_log(3)", "proxy_on_done(3)", "proxy_on_delete(3)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("calls:\ngot  %q\nwant %q", got, want)
	}
	if resp.Header("x-probe-saw-response") != "yes" {
		t.Errorf("response headers did not pass through the filter: %q", resp.Headers)
	}
	_, bodies, _ := rec.snapshot()
	if !slices.Equal(bodies, []string{"abc"}) {
		t.Errorf("upstream got bodies %q, want [abc]", bodies)
	}
}

func TestRequestHeadersCarryPseudoHeadersAndFirstValueOnly(t *testing.T) {
	h := startProbe(t, Config{})
	resp := do(t, h, &Request{Path: "/x?y=1", Authority: "shop.test", Headers: probe("echo-headers", [2]string{"x-dup", "one"}, [2]string{"X-Dup", "two"})})
	body := string(resp.Body)
	for _, want := range []string{":method=GET\n", ":path=/x?y=1\n", ":authority=shop.test\n", ":scheme=http\n", "x-dup=one\nx-dup=two\n", "first x-dup=one\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("echo lacks %q:\n%s", want, body)
		}
	}
	if resp.Status != 200 || !resp.Local || resp.Header("x-probe") != "echo-headers" {
		t.Errorf("got status %d local %v headers %q", resp.Status, resp.Local, resp.Headers)
	}
}

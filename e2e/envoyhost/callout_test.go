package envoyhost

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func calloutHeaders(cluster, path string, timeoutMs string) Pairs {
	return probe("callout", [2]string{"x-probe-cluster", cluster}, [2]string{"x-probe-path", path}, [2]string{"x-probe-timeout", timeoutMs})
}

func TestHTTPCallouts(t *testing.T) {
	svc := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("x-svc", "1")
			w.Write([]byte("fine"))
		case "/slow":
			time.Sleep(300 * time.Millisecond)
			w.Write([]byte("late"))
		case "/reset-mid-body":
			// Headers go out, then the connection dies inside the body.
			w.Header().Set("content-length", "100")
			w.WriteHeader(200)
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		case "/close-before-headers":
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}
	})
	tlsSvc := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("over tls to " + r.Host))
	}))
	t.Cleanup(tlsSvc.Close)
	roots := x509.NewCertPool()
	roots.AddCert(tlsSvc.Certificate())
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	h := startProbe(t, Config{Clusters: map[string]Cluster{
		"svc":    {Addr: svc.addr()},
		"tls":    {Addr: strings.TrimPrefix(tlsSvc.URL, "https://"), TLS: &tls.Config{RootCAs: roots, ServerName: "example.com"}},
		"down":   {Addr: closedAddr},
		"inline": {Addr: svc.addr(), FailInline: true},
	}})
	for _, c := range []struct {
		name, cluster, path, timeout, want string
	}{
		{"answer with headers and body", "svc", "/ok", "2000", "status=200 headers=5 herr=<nil> body=fine"},
		{"upstream TLS cluster", "tls", "/", "2000", "status=200 headers=4 herr=<nil> body=over tls to upstream.test"},
		{"timeout is a 504 response", "svc", "/slow", "50", "status=504 headers=3 herr=<nil> body=upstream request timeout"},
		{"connect failure is a 503 response", "down", "/", "2000", "status=503 headers=3 herr=<nil> body=upstream connect error or disconnect/reset before headers. reset reason: connection failure"},
		{"close before headers is a 503 response", "svc", "/close-before-headers", "2000", "status=503 headers=3 herr=<nil> body=upstream connect error or disconnect/reset before headers. reset reason: connection termination"},
		{"reset after headers is zero headers", "svc", "/reset-mid-body", "2000", "status= headers=0 herr=error status returned by host: not found body="},
		{"inline failure returns an error and no callback", "inline", "/", "2000", "dispatch: error status returned by host: internal failure"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := do(t, h, &Request{Headers: calloutHeaders(c.cluster, c.path, c.timeout)})
			if string(resp.Body) != c.want {
				t.Errorf("got %q\nwant %q", resp.Body, c.want)
			}
		})
	}
	var paths []string
	for _, rec := range h.Callouts() {
		p, _ := rec.Headers.Get(":path")
		paths = append(paths, rec.Cluster+p)
	}
	if want := []string{"svc/ok", "tls/", "svc/slow", "down/", "svc/close-before-headers", "svc/reset-mid-body"}; !slices.Equal(paths, want) {
		t.Errorf("dispatched callouts %q, want %q", paths, want)
	}
}

func TestCalloutsAreValidatedLikeEnvoy(t *testing.T) {
	svc := newRecorder(t, nil)
	h := startProbe(t, Config{Clusters: map[string]Cluster{"svc": {Addr: svc.addr()}}})
	resp := do(t, h, &Request{Headers: probe("callout-bad", [2]string{"x-probe-cluster", "svc"})})
	want := "unknown cluster: error status returned by host: bad argument\n" +
		"no :authority: error status returned by host: bad argument\n" +
		"no :path: error status returned by host: bad argument\n" +
		"no :method: error status returned by host: bad argument"
	if string(resp.Body) != want {
		t.Errorf("got\n%s\nwant\n%s", resp.Body, want)
	}
	if reqs, _, _ := svc.snapshot(); len(reqs) != 0 {
		t.Errorf("invalid callouts reached the cluster: %q", reqs)
	}
}

func TestLocalResponseOnRootContextIsASilentNoop(t *testing.T) {
	svc := newRecorder(t, nil)
	h := startProbe(t, Config{Clusters: map[string]Cluster{"svc": {Addr: svc.addr()}}})
	resp := do(t, h, &Request{Headers: probe("root-local-response", [2]string{"x-probe-cluster", "svc"}, [2]string{"x-probe-path", "/"}, [2]string{"x-probe-timeout", "1000"})})
	if resp.Status != 200 || string(resp.Body) != "root send err=<nil>" {
		t.Errorf("got %d %q, want the stream's 200 after a silent no-op on root", resp.Status, resp.Body)
	}
}

func TestCalloutAnswerAfterStreamDeletedIsDelivered(t *testing.T) {
	release := make(chan struct{})
	svc := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write([]byte("late"))
	})
	h := startProbe(t, Config{Clusters: map[string]Cluster{"svc": {Addr: svc.addr()}}})
	s := h.NewStream()
	s.SendHeaders((&Request{Headers: probe("callout-after-cancel", [2]string{"x-probe-cluster", "svc"}, [2]string{"x-probe-path", "/"}, [2]string{"x-probe-timeout", "5000"})}).HeaderPairs(), true)
	s.Cancel()
	<-s.Done()
	close(release)
	if err := h.WaitCallouts(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	calls := h.Calls()
	iDelete := slices.Index(calls, "worker_0 proxy_on_delete(3)")
	iAnswer := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "worker_0 proxy_on_http_call_response(") })
	if iDelete < 0 || iAnswer < iDelete {
		t.Errorf("want the callout answer after the stream's delete; calls %q", calls)
	}
	if got := h.LogsAt(LevelCritical); len(got) != 0 {
		t.Errorf("the SDK ran the callback of a deleted stream: %q", got)
	}
	if err := h.Worker(0).Failed(); err != nil {
		t.Errorf("VM failed: %v", err)
	}
}

func TestMetricsAndSharedData(t *testing.T) {
	h := startProbe(t, Config{})
	resp := do(t, h, &Request{Headers: probe("metrics")})
	want := "counter=5 gauge=6 set=<nil> get=v1(<nil>) stale=error status returned by host: cas mismatch cas-ok=<nil> now=v3 missing=error status returned by host: not found"
	if string(resp.Body) != want {
		t.Errorf("got  %s\nwant %s", resp.Body, want)
	}
	if v, ok := h.Metric("wasmcustom.probe_requests"); !ok || v != 5 {
		t.Errorf("counter probe_requests = %d, %v; want 5", v, ok)
	}
	if got := h.HistogramSamples("probe_hist"); !slices.Equal(got, []uint64{7, 9}) {
		t.Errorf("histogram samples %v, want [7 9]", got)
	}
	if v, _, ok := h.SharedData("k"); !ok || string(v) != "v3" {
		t.Errorf("shared data k = %q, %v", v, ok)
	}
}

func TestProperties(t *testing.T) {
	h := startProbe(t, Config{PluginName: "transfer"})
	resp := do(t, h, &Request{Path: "/p?q=1", Headers: probe("properties")})
	want := "plugin_name=transfer(<nil>) path=/p?q=1(<nil>) missing=error status returned by host: not found"
	if string(resp.Body) != want {
		t.Errorf("got  %s\nwant %s", resp.Body, want)
	}
}

func TestEveryHostcallTheSDKMakesRunsUnderTheHost(t *testing.T) {
	h := startProbe(t, Config{})
	resp := do(t, h, &Request{Headers: probe("hostcalls")})
	want := []string{
		"set_property=<nil>", "get_property=<nil>", "set_shared=<nil>", "get_shared=<nil>",
		"register_queue=<nil>", "resolve_queue=<nil>", "enqueue=<nil>", "dequeue(item)=<nil>",
		"get_header=<nil>", "add_header=<nil>", "replace_header=<nil>", "remove_header=<nil>",
		"get_headers=<nil>", "set_headers=<nil>",
		// No body is at hand while request headers are processed: the host
		// answers OK and empty as Envoy does, and the SDK turns the missing
		// data into NotFound; writes are NotFound.
		"get_body=error status returned by host: not found", "set_body=error status returned by host: not found",
		"foreign=error status returned by host: not found", "tick=<nil>",
		"effective_root=<nil>", "effective_stream=<nil>", "effective_unknown=error status returned by host: bad argument",
		"metric=1", "http_call=error status returned by host: bad argument",
	}
	if got := strings.Split(string(resp.Body), "\n"); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", resp.Body, strings.Join(want, "\n"))
	}
	if err := h.Worker(0).Failed(); err != nil {
		t.Fatalf("a hostcall trapped: %v", err)
	}
}

func TestTickPeriodAndTicks(t *testing.T) {
	h := startProbe(t, Config{PluginConfig: []byte("tick")})
	vm := h.Worker(0)
	if got := vm.TickPeriod(); got != 250 {
		t.Errorf("tick period %d ms, want 250", got)
	}
	if err := vm.Tick(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if len(tickLogs(h)) == 0 {
		t.Errorf("OnTick did not run; logs:\n%s", h.LogText())
	}
}

package envoyhost

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestInProcessClusterAnswersCalloutsAfterTheCall(t *testing.T) {
	var got []string
	h := startProbe(t, Config{Clusters: map[string]Cluster{"svc": {Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Host+" body="+string(b))
		w.Header().Set("x-svc", "1")
		w.Write([]byte("fine"))
	})}}})
	resp := do(t, h, &Request{Headers: calloutHeaders("svc", "/ok", "2000")})
	if want := "status=200 headers=3 herr=<nil> body=fine"; string(resp.Body) != want {
		t.Errorf("got %q, want %q", resp.Body, want)
	}
	if len(got) != 1 {
		t.Fatalf("handler saw %q, want one request", got)
	}
	calls := h.Calls()
	iHeaders := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "worker_0 proxy_on_request_headers(") })
	iAnswer := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "worker_0 proxy_on_http_call_response(") })
	if iHeaders < 0 || iAnswer < iHeaders {
		t.Errorf("want the answer delivered in its own call after the dispatching one; calls %q", calls)
	}
}

func TestModuleTimeSplitsExportCallsFromHostcalls(t *testing.T) {
	h := startProbe(t, Config{Clusters: map[string]Cluster{"svc": {Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("fine"))
	})}}})
	h.MeasureModuleTime(true)
	do(t, h, &Request{Headers: calloutHeaders("svc", "/ok", "2000")})
	h.WaitCallouts(testCtx(t))
	mt := h.TakeModuleTime()
	for _, name := range []string{"proxy_on_context_create", "proxy_on_request_headers", "proxy_on_http_call_response", "proxy_on_delete"} {
		e, ok := mt.Exports[name]
		if !ok || e.Calls != 1 || e.Module <= 0 {
			t.Errorf("%s: got %+v, want one call with module time", name, e)
		}
	}
	if e := mt.Exports["proxy_on_request_headers"]; e.Host <= 0 {
		t.Errorf("proxy_on_request_headers: host time %v, want some (it dispatches a callout)", e.Host)
	}
	if _, ok := mt.Exports["proxy_on_memory_allocate"]; ok {
		t.Error("a nested allocation was accounted as an export of its own, want it inside its caller's module time")
	}
	var answer []string
	for _, tr := range mt.Trace {
		if tr.Export == "proxy_on_http_call_response" {
			answer = tr.Hostcalls
		}
	}
	// Reading the answer's headers hands them to the guest through a
	// nested allocation, which the trace shows in its place.
	i := slices.Index(answer, "proxy_get_header_map_pairs")
	if i < 0 || i+1 >= len(answer) || answer[i+1] != "proxy_on_memory_allocate" {
		t.Errorf("hostcalls of proxy_on_http_call_response %q, want proxy_get_header_map_pairs then proxy_on_memory_allocate", answer)
	}
	if again := h.TakeModuleTime(); len(again.Exports) != 0 || len(again.Trace) != 0 {
		t.Errorf("TakeModuleTime did not clear: %+v", again)
	}
}

package envoyhost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// These pin places where the host once differed from proxy-wasm-cpp-host and
// Envoy. Each names the source it follows.

// cpp-host src/wasm.cc WasmBase::startVm turns restricted callbacks on for
// _initialize (and main) only; proxy_on_vm_start and proxy_on_configure run
// unrestricted. A call outside the list traps in src/v8/v8.cc
// (restricted_callback) and the VM fails to load. #427 (Envoy 1.33) has no
// sched_yield, poll_oneoff, proc_exit, fd_close, fd_read, fd_seek or
// path_open in the list; #533 (Envoy 1.39) adds poll_oneoff only of these.
func TestInitializeMayMakeOnlyTheStartVMAllowListOfWASICalls(t *testing.T) {
	for _, c := range []struct {
		call             string
		trap133, trap139 bool
	}{
		{"sched_yield", true, true},
		{"poll_oneoff", true, false},
		{"proc_exit", true, true},
		{"fd_close", true, true},
		{"fd_read", true, true},
		{"fd_seek", true, true},
		{"path_open", true, true},
		{"fd_fdstat_get", false, false}, // added by #427 for the Go runtime
	} {
		for _, era := range []struct {
			envoy EnvoyVersion
			trap  bool
		}{{Envoy133, c.trap133}, {Envoy139, c.trap139}} {
			verb := "loads"
			if era.trap {
				verb = "traps"
			}
			t.Run(fmt.Sprintf("%s in _initialize %s on %s", c.call, verb, era.envoy), func(t *testing.T) {
				h, err := Start(testCtx(t), probeWasm(t), Config{Envoy: era.envoy, Env: map[string]string{"PROBE_INIT_WASI": c.call}})
				if err == nil {
					h.Close(context.Background())
				}
				want := "restricted_callback: " + c.call
				switch {
				case era.trap && (err == nil || !strings.Contains(err.Error(), want)):
					t.Errorf("got %v, want the load to fail with %q", err, want)
				case !era.trap && err != nil:
					t.Errorf("got %v, want the module to load", err)
				}
			})
		}
	}
}

func TestRestrictionEndsWithInitialize(t *testing.T) {
	// The probe's OnPluginStart reads its configuration, which traps during
	// _initialize; proxy_on_configure is not restricted.
	h := startProbe(t, Config{PluginConfig: []byte("hello")})
	if err := h.Worker(0).Failed(); err != nil {
		t.Fatalf("VM failed: %v", err)
	}
}

// Envoy context.cc getHeaderMapSize answers HeaderMap::byteSize(), the sum
// of every key's and value's length; the host answered the serialised size.
func TestHeaderMapSizeIsTheSumOfKeyAndValueLengths(t *testing.T) {
	h := startProbe(t, Config{})
	resp := do(t, h, &Request{Headers: probe("header-map-size", [2]string{"x-a", "1"})})
	var status, size, sum int
	if _, err := fmt.Sscanf(string(resp.Body), "status=%d size=%d sum=%d", &status, &size, &sum); err != nil {
		t.Fatalf("body %q: %v", resp.Body, err)
	}
	if status != statusOK || size != sum {
		t.Errorf("got status %d size %d, want status 0 and size %d (keys plus values)", status, size, sum)
	}
}

// Envoy context.cc getBuffer returns a buffer wrapper for the body types
// even when no body is at hand (request_body_buffer_ is null outside
// decodeData unless buffering); cpp-host get_buffer_bytes then answers OK
// with nothing. The host answered NotFound.
func TestRequestBodyReadOutsideABodyCallbackIsEmptyAndOK(t *testing.T) {
	h := startProbe(t, Config{})
	resp := do(t, h, &Request{Method: "POST", Body: []byte("not yet seen"), Headers: probe("body-in-headers")})
	if got, want := string(resp.Body), "status=0 size=0"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// cpp-host src/wasm.cc WasmBase::done answers NotFound unless the root
// context is in pending_done_ (its proxy_on_done returned false while
// being torn down). The host answered OK.
func TestProxyDoneIsNotFoundOutsideRootTeardown(t *testing.T) {
	h := startProbe(t, Config{})
	resp := do(t, h, &Request{Headers: probe("proxy-done")})
	if got, want := string(resp.Body), fmt.Sprintf("status=%d", statusNotFound); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// cpp-host marks the VM failed when proxy_on_http_call_response traps, but
// nothing fails the stream that waits for the answer (Envoy context.cc
// onHttpCallSuccess only calls into the VM); it ends at Envoy's stream
// timeout, or when the client goes away. Later streams meet the failed VM.
// The host used to answer the waiting stream 503 at once.
func TestVMFailingInACalloutAnswerLeavesTheWaitingStreamUnanswered(t *testing.T) {
	svc := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	h := startProbe(t, Config{Clusters: map[string]Cluster{"svc": {Addr: svc.addr()}}})
	s := h.NewStream()
	s.Send(&Request{Headers: probe("callout-panic", [2]string{"x-probe-cluster", "svc"}, [2]string{"x-probe-path", "/"}, [2]string{"x-probe-timeout", "5000"})})
	if err := h.WaitCallouts(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := h.Worker(0).Failed(); !errors.Is(err, ErrVMFailed) {
		t.Fatalf("VM not failed by the panicking callback: %v", err)
	}
	select {
	case <-s.Done():
		resp, _ := s.Wait(testCtx(t))
		t.Fatalf("the waiting stream was answered %d %s; Envoy leaves it to its stream timeout", resp.Status, resp.Details)
	default:
	}
	if resp := do(t, h, &Request{Headers: probe("echo-headers")}); resp.Status != 503 || resp.Details != "wasm_fail_stream" {
		t.Errorf("next stream: got %d %s, want 503 wasm_fail_stream", resp.Status, resp.Details)
	}
	s.Cancel()
	<-s.Done()
}

// cpp-host src/exports.cc writevImpl logs each fd_write as one line (fd 1
// info, fd 2 error) with one trailing newline removed, so a message written
// in pieces (a Go crash trace) arrives as many lines. The host used to join
// writes up to each newline.
func TestEachFdWriteIsOneLogLine(t *testing.T) {
	h := startProbe(t, Config{})
	do(t, h, &Request{Headers: probe("print-pieces")})
	errs, infos := h.LogsAt(LevelError), h.LogsAt(LevelInfo)
	if !slices.Contains(errs, "piece one, ") || !slices.Contains(errs, "piece two") {
		t.Errorf("error logs %q, want \"piece one, \" and \"piece two\" as two lines", errs)
	}
	if !slices.Contains(infos, "line a\nline b") {
		t.Errorf("info logs %q, want one line \"line a\\nline b\"", infos)
	}
}

// Envoy sends a filter's local reply through the encoder filter chain
// (sendLocalReplyViaFilterChain), the sending filter included, so the
// plugin's own proxy_on_response_headers sees it.
func TestLocalReplyTravelsThroughTheFiltersOwnResponseCallbacks(t *testing.T) {
	h := startProbe(t, Config{})
	resp := do(t, h, &Request{Headers: probe("local-and-continue")})
	if resp.Status != 403 || !resp.Local || resp.Header("x-probe-saw-response") != "yes" {
		t.Errorf("got %d local=%v headers %q, want the local 403 marked by the filter's response callback", resp.Status, resp.Local, resp.Headers)
	}
	calls := h.Calls()
	iReq := slices.Index(calls, "worker_0 proxy_on_request_headers(3,5,1)")
	iResp := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "worker_0 proxy_on_response_headers(3,") })
	if iReq < 0 || iResp < iReq {
		t.Errorf("want proxy_on_response_headers after the request headers; calls %q", calls)
	}
}

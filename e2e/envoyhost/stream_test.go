package envoyhost

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func logsContaining(h *Host, sub string) []string {
	var out []string
	for _, e := range h.Logs() {
		if strings.Contains(e.Message, sub) {
			out = append(out, e.Message)
		}
	}
	return out
}

func TestPauseOnHeadersStopsBodyCallbacksByDefault(t *testing.T) {
	h := startProbe(t, Config{})
	s := h.NewStream()
	s.Send(&Request{Method: "POST", Body: []byte("0123456789"), ChunkSize: 3, Headers: probe("pause-headers")})
	select {
	case <-s.Done():
		t.Fatal("stream ended although the filter paused on headers and never resumed")
	case <-time.After(100 * time.Millisecond):
	}
	if got := logsContaining(h, "request body"); len(got) != 0 {
		t.Errorf("body callbacks ran during StopAllIteration: %q", got)
	}
	s.Cancel()
	<-s.Done()
}

func TestAllowOnHeadersStopIterationStillDeliversBody(t *testing.T) {
	rec := newRecorder(t, nil)
	h := startProbe(t, withUpstream(Config{AllowOnHeadersStopIteration: true}, rec))
	resp := do(t, h, &Request{Method: "POST", Body: []byte("0123456789"), ChunkSize: 4, Headers: probe("pause-headers")})
	if got, want := string(resp.Body), "sizes=4,8,10 body=0123456789"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if reqs, _, _ := rec.snapshot(); len(reqs) != 0 {
		t.Errorf("the route's upstream was contacted: %q", reqs)
	}
}

func TestResumeAfterStopAllRedeliversHeldBody(t *testing.T) {
	slow := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		w.Write([]byte("ok"))
	})
	app := newRecorder(t, nil)
	cfg := withUpstream(Config{}, app)
	cfg.Clusters["svc"] = Cluster{Addr: slow.addr()}
	h := startProbe(t, cfg)
	s := h.NewStream()
	s.Send(&Request{Method: "POST", Body: []byte("0123456789"), ChunkSize: 2,
		Headers: probe("pause-then-callout", [2]string{"x-probe-cluster", "svc"}, [2]string{"x-probe-path", "/slow"}, [2]string{"x-probe-timeout", "5000"})})
	resp, err := s.Wait(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	// While paused Envoy held every chunk; on resume the filter sees them
	// all at once, in one body callback with the total size.
	if got, want := string(resp.Body), "sizes=10 body=0123456789"; got != want {
		t.Errorf("got %q, want %q\nlogs:\n%s", got, want, h.LogText())
	}
	if ev := s.Events(); !slices.Contains(ev, "upstream: open app") {
		t.Errorf("after resume the headers should reach the router; events %v", ev)
	}
}

func TestBodyPauseBuffersAndLaterLocalResponseResetsUpstream(t *testing.T) {
	rec := newRecorder(t, nil)
	h := startProbe(t, withUpstream(Config{}, rec))
	s := h.NewStream()
	s.SendHeaders((&Request{Method: "POST", Path: "/buffer", Headers: probe("buffer-body")}).HeaderPairs(), false)
	// Envoy's router sends the head as soon as the headers pass the filter.
	waitFor(t, func() bool { reqs, _, _ := rec.snapshot(); return len(reqs) == 1 })
	s.SendData([]byte("abcde"), false)
	s.SendData([]byte("fghij"), false)
	s.SendData([]byte("kl"), true)
	resp, err := s.Wait(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(resp.Body), "sizes=5,10,12 body=abcdefghijkl"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Headers continued, so the router opened the upstream request; the
	// local response then reset it before it ever got the body.
	deadline := time.Now().Add(5 * time.Second)
	for {
		reqs, bodies, errs := rec.snapshot()
		if len(errs) == 1 {
			if reqs[0] != "POST /buffer" || errs[0] == nil || bodies[0] != "" {
				t.Errorf("upstream saw %q, body %q, read error %v; want the head, no body, a reset", reqs, bodies, errs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("upstream never saw the request; events %v", s.Events())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ev := s.Events(); !slices.Contains(ev, "upstream: reset") {
		t.Errorf("events %v lack the upstream reset", ev)
	}
}

func TestBufferedBodyOverLimitIs413(t *testing.T) {
	h := startProbe(t, withUpstream(Config{BufferLimit: 16}, newRecorder(t, nil)))
	resp := do(t, h, &Request{Method: "POST", Body: make([]byte, 40), ChunkSize: 10, Headers: probe("buffer-body")})
	if resp.Status != 413 || string(resp.Body) != "Payload Too Large" || resp.Details != "request_payload_too_large" {
		t.Errorf("got %d %q (%s), want Envoy's 413", resp.Status, resp.Body, resp.Details)
	}
}

func TestTrailersMakeLastChunkNotEndOfStream(t *testing.T) {
	h := startProbe(t, withUpstream(Config{}, newRecorder(t, nil)))
	resp := do(t, h, &Request{Method: "POST", Body: []byte("abcdef"), ChunkSize: 3, Headers: probe("buffer-body"),
		Trailers: Pairs{{"x-trailer", "t1"}}})
	if got, want := string(resp.Body), "sizes=3,6 trailers x-trailer=t1 body=abcdef"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got := logsContaining(h, "request body")
	want := []string{"probe: 3 request body size=3 eos=false", "probe: 3 request body size=6 eos=false"}
	if !slices.Equal(got, want) {
		t.Errorf("body callbacks %q, want %q", got, want)
	}
}

func TestLocalResponseForcesStopAndIsDeferred(t *testing.T) {
	rec := newRecorder(t, nil)
	h := startProbe(t, withUpstream(Config{}, rec))
	s := h.NewStream()
	s.Send(&Request{Headers: probe("local-and-continue")})
	resp, err := s.Wait(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 403 || string(resp.Body) != "denied" || !resp.Local {
		t.Errorf("got %d %q, want the local 403", resp.Status, resp.Body)
	}
	if s.UpstreamOpened() {
		t.Error("headers reached the router although a local response was sent")
	}
	if reqs, _, _ := rec.snapshot(); len(reqs) != 0 {
		t.Errorf("upstream saw %q", reqs)
	}
}

func TestCloseStreamResetsIt(t *testing.T) {
	h := startProbe(t, Config{})
	resp := do(t, h, &Request{Headers: probe("close")})
	if !resp.Reset || resp.Status != 0 || resp.Details != "wasm_close_stream" {
		t.Errorf("got %+v, want a reset with details wasm_close_stream", resp)
	}
}

func TestRouterAnswers404WithoutRoute(t *testing.T) {
	h := startProbe(t, Config{})
	resp := do(t, h, &Request{Headers: probe("pass")})
	if resp.Status != 404 || resp.Details != "route_not_found" {
		t.Errorf("got %d %s, want 404 route_not_found", resp.Status, resp.Details)
	}
}

func TestBuffersHandedToTheGuestSurviveGC(t *testing.T) {
	h := startProbe(t, withUpstream(Config{}, newRecorder(t, nil)))
	body := []byte(strings.Repeat("0123456789abcdef", 4096)) // 64 KiB
	resp := do(t, h, &Request{Method: "POST", Body: body, ChunkSize: 8192, Headers: probe("gc")})
	if got, want := string(resp.Body), fmt.Sprintf("gc ok %d bytes", len(body)); got != want {
		t.Errorf("got %d %q, want %q\n%s", resp.Status, got, want, h.LogText())
	}
}

func TestDownstreamCancelDeletesTheContext(t *testing.T) {
	h := startProbe(t, withUpstream(Config{}, newRecorder(t, nil)))
	s := h.NewStream()
	s.SendHeaders((&Request{Method: "POST", Headers: probe("buffer-body")}).HeaderPairs(), false)
	s.SendData([]byte("x"), false)
	s.Cancel()
	resp, err := s.Wait(context.Background())
	if err != nil || !resp.Reset {
		t.Fatalf("got %+v %v", resp, err)
	}
	calls := h.Calls()
	tail := calls[len(calls)-3:]
	if want := []string{"worker_0 proxy_on_log(3)", "worker_0 proxy_on_done(3)", "worker_0 proxy_on_delete(3)"}; !slices.Equal(tail, want) {
		t.Errorf("last calls %q, want %q", tail, want)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestResumeAfterStopAllDeliversHeldTrailers(t *testing.T) {
	slow := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		w.Write([]byte("ok"))
	})
	cfg := withUpstream(Config{}, newRecorder(t, nil))
	cfg.Clusters["svc"] = Cluster{Addr: slow.addr()}
	h := startProbe(t, cfg)
	// pause-then-callout resumes after the callout; the held body is then
	// re-delivered (eos false: trailers follow) and the filter buffers it;
	// the held trailers must still reach it.
	resp := do(t, h, &Request{Method: "POST", Body: []byte("abcdef"), ChunkSize: 3, Trailers: Pairs{{"x-trailer", "t"}},
		Headers: probe("pause-then-callout", [2]string{"x-probe-cluster", "svc"}, [2]string{"x-probe-path", "/"}, [2]string{"x-probe-timeout", "5000"})})
	if got := logsContaining(h, "request trailers"); len(got) != 1 {
		t.Errorf("trailer callbacks %q, want one after the resume\n%s", got, h.LogText())
	}
	_ = resp
}

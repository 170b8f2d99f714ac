package authtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

// Refetch on an unknown kid (SPEC §2.2b), against plugin.wasm on the host's
// test clock. The refetch is dispatched from the root context's tick, which
// the filter sets to 1 ms for it, so each test advances the clock by 1 ms
// (settle) to carry it out.

// startTransfer sends a transfer with token on a new stream and returns the
// stream without waiting for its answer. chunk > 0 sends the body in
// chunks of that size.
func (js *jwksStack) startTransfer(t *testing.T, token string, chunk int) *envoyhost.Stream {
	t.Helper()
	r := js.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`)
	r.Headers = append(removeHeader(r.Headers, "x-firmly-authorization"), [2]string{"x-firmly-authorization", "Bearer " + token})
	r.ChunkSize = chunk
	s := js.Host.NewStream()
	s.Send(r)
	return s
}

// settle runs the tick that dispatches a pending refetch and waits for it
// and for every callout that followed.
func (js *jwksStack) settle(t *testing.T) {
	t.Helper()
	js.clock.Advance(time.Millisecond)
	if err := js.Host.WaitCallouts(e2etest.TestContext(t)); err != nil {
		t.Fatal(err)
	}
}

func waitStream(t *testing.T, s *envoyhost.Stream) *envoyhost.Response {
	t.Helper()
	resp, err := s.Wait(e2etest.TestContext(t))
	if err != nil {
		t.Fatalf("%v\ncalls: %q", err, s.Events())
	}
	return resp
}

// withKid is the key under another kid: its tokens name a kid no set has.
func withKid(s ecSigner, kid string) ecSigner { return ecSigner{kid: kid, key: s.key} }

// loadedAndPastTheWindow is a stack whose first fetch loaded old at +1 s,
// and whose clock then passed the default 30 s refetch window.
func loadedAndPastTheWindow(t *testing.T, o jwksOpts, old ecSigner) *jwksStack {
	t.Helper()
	if o.refresh == 0 {
		o.refresh = 600 // no scheduled refresh inside these tests
	}
	js := newJWKSStack(t, o)
	js.jwks.Answer(200, keySet(old))
	js.advance(t, 31)
	if n := js.fetches(); n != 1 {
		t.Fatalf("%d fetches, want the first one only", n)
	}
	return js
}

func TestJWKSRefetchOnUnknownKid(t *testing.T) {
	for _, mode := range []struct {
		name  string
		pause bool
	}{{"default mode", false}, {"pause_on_headers mode", true}} {
		t.Run(mode.name, func(t *testing.T) {
			old, next := newECSigner(t, "k-old"), newECSigner(t, "k-new")
			js := loadedAndPastTheWindow(t, jwksOpts{pauseOnHeaders: mode.pause}, old)
			js.jwks.Answer(200, keySet(old, next)) // the issuer rotates

			// The body arrives in chunks while the request waits (only
			// delivered with allow_on_headers_stop_iteration; otherwise
			// Envoy holds it until the request is resumed).
			s := js.startTransfer(t, next.token(t), 7)
			select {
			case <-s.Done():
				t.Fatalf("answered before the refetch: %+v", waitStream(t, s))
			default:
			}
			js.settle(t)
			e2etest.CartOf(t, waitStream(t, s))
			if n, r := js.fetches(), js.metric("jwks_refetch_on_unknown_kid"); n != 2 || r != 1 {
				t.Fatalf("%d fetches, %d refetches; want 2 and 1", n, r)
			}
			if got := js.Merchant.Received(); len(got) != 1 || !strings.Contains(got[0].Body, e2etest.StringHandle) {
				t.Errorf("the merchant received %+v, want one export with the request's handle", got)
			}
			if !strings.Contains(js.Host.LogText(), "fetching the remote JWKS from cluster \"jwks\" now") {
				t.Errorf("no log line says a refetch was made:\n%s", js.Host.LogText())
			}
			if mode.pause && strings.Contains(strings.Join(s.Events(), ";"), "upstream: open") {
				t.Errorf("pause_on_headers: the route's upstream was contacted: %v", s.Events())
			}

			// Inside the window another unknown kid is refused at once.
			e2etest.WantStatus(t, js.transfer(t, withKid(old, "k-random").token(t)), 401, "MissingAuthHeader")
			if n, r := js.fetches(), js.metric("jwks_refetch_on_unknown_kid"); n != 2 || r != 1 {
				t.Errorf("%d fetches, %d refetches after an unknown kid inside the window; want still 2 and 1", n, r)
			}
			e2etest.CartOf(t, js.transfer(t, next.token(t)))
		})
	}
}

// Every request that arrives while the refetch is in flight waits on the
// same fetch and is judged again when it ends; one that went away costs
// nothing more.
func TestJWKSRefetchJudgesEveryWaitingRequestAgain(t *testing.T) {
	old, next := newECSigner(t, "k-old"), newECSigner(t, "k-new")
	js := loadedAndPastTheWindow(t, jwksOpts{}, old)
	js.jwks.Answer(200, keySet(old, next))

	found := js.startTransfer(t, next.token(t), 0)
	missing := js.startTransfer(t, withKid(old, "k-nowhere").token(t), 0)
	gone := js.startTransfer(t, next.token(t), 0)
	gone.Cancel()
	js.settle(t)

	e2etest.CartOf(t, waitStream(t, found))
	e := e2etest.WantStatus(t, waitStream(t, missing), 401, "MissingAuthHeader")
	if !strings.Contains(e.Description, "unknown key id") {
		t.Errorf("description %q, want unknown key id", e.Description)
	}
	if n, r := js.fetches(), js.metric("jwks_refetch_on_unknown_kid"); n != 2 || r != 1 {
		t.Errorf("%d fetches, %d refetches; want one refetch for every waiting request", n, r)
	}
	if n := len(js.Merchant.Received()); n != 1 {
		t.Errorf("the merchant was called %d times, want once (the request that went away costs nothing)", n)
	}
}

func TestJWKSFailedRefetchIs503AndKeepsTheSet(t *testing.T) {
	old, next := newECSigner(t, "k-old"), newECSigner(t, "k-new")
	js := loadedAndPastTheWindow(t, jwksOpts{pauseOnHeaders: true}, old)
	js.jwks.Answer(500, bodyMarker)

	s := js.startTransfer(t, next.token(t), 0)
	js.settle(t)
	e2etest.WantStatus(t, waitStream(t, s), 503, "ErrorAuthUnavailable")
	if f := js.metric("jwks_fetch_failure"); f != 1 {
		t.Errorf("jwks_fetch_failure %d, want 1", f)
	}
	e2etest.CartOf(t, js.transfer(t, old.token(t)))
	if n := len(js.Merchant.Received()); n != 1 {
		t.Errorf("the merchant was called %d times, want once (not for the 503)", n)
	}
}

func TestJWKSRefetchCanBeTurnedOff(t *testing.T) {
	old, next := newECSigner(t, "k-old"), newECSigner(t, "k-new")
	js := loadedAndPastTheWindow(t, jwksOpts{remoteExtra: `, "min_refetch_seconds": 0`}, old)
	js.jwks.Answer(200, keySet(old, next))
	e2etest.WantStatus(t, js.transfer(t, next.token(t)), 401, "MissingAuthHeader")
	if n, r := js.fetches(), js.metric("jwks_refetch_on_unknown_kid"); n != 1 || r != 0 {
		t.Errorf("%d fetches, %d refetches with min_refetch_seconds 0; want 1 and 0", n, r)
	}
}

// A storm of random kids, three a second for 95 s, causes at most one fetch
// per 30 s window.
func TestJWKSUnknownKidStormFetchesAtMostOncePerWindow(t *testing.T) {
	old := newECSigner(t, "k-old")
	js := newJWKSStack(t, jwksOpts{refresh: 600})
	js.jwks.Answer(200, keySet(old))
	js.advance(t, 1)
	var fetchedAt []int // seconds since the first fetch
	last := js.fetches()
	for sec := 0; sec < 95; sec++ {
		for i := 0; i < 3; i++ {
			s := js.startTransfer(t, withKid(old, fmt.Sprintf("random-%d-%d", sec, i)).token(t), 0)
			js.settle(t)
			e2etest.WantStatus(t, waitStream(t, s), 401, "MissingAuthHeader")
		}
		if n := js.fetches(); n != last {
			fetchedAt, last = append(fetchedAt, sec), n
		}
		js.advance(t, 1)
	}
	// The window counts from the first fetch, then from each refetch.
	if want := []int{30, 60, 90}; fmt.Sprint(fetchedAt) != fmt.Sprint(want) {
		t.Errorf("refetches at %v s after the first fetch, want %v", fetchedAt, want)
	}
	if r := js.metric("jwks_refetch_on_unknown_kid"); r != uint64(len(fetchedAt)) {
		t.Errorf("jwks_refetch_on_unknown_kid %d, want %d", r, len(fetchedAt))
	}
}

// The gauge of worker VMs without remote keys: each worker counts itself
// from its first tick (the canary never does) until its first successful
// fetch, so it shows "no keys on some VM" while any worker has none.
func TestJWKSVMsWithoutRemoteKeysGauge(t *testing.T) {
	js := newJWKSStack(t, jwksOpts{workers: 2, retry: 1})
	js.jwks.Answer(503, bodyMarker)
	if g, ok := js.Host.Metric("session_transfer.jwks_vms_without_remote_keys"); !ok || g != 0 {
		t.Fatalf("before the first tick: gauge %d (defined %v), want defined at 0", g, ok)
	}
	js.advance(t, 3) // every fetch fails
	if g := js.metric("jwks_vms_without_remote_keys"); g != 2 {
		t.Fatalf("gauge %d with both workers failing, want 2", g)
	}
	good := newECSigner(t, "k-good")
	js.jwks.Answer(200, keySet(good))
	js.advance(t, 4)
	if g := js.metric("jwks_vms_without_remote_keys"); g != 0 {
		t.Errorf("gauge %d after both workers loaded, want 0", g)
	}
	js.jwks.Answer(503, bodyMarker) // a later failure keeps the set: still 0
	js.advance(t, 31)
	if g, f := js.metric("jwks_vms_without_remote_keys"), js.metric("jwks_fetch_failure"); g != 0 || f < 4 {
		t.Errorf("gauge %d, failures %d after a failed refresh; want 0 and the refresh failures counted", g, f)
	}
}

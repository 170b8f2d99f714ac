package authtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cristalhq/jwt/v4"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/e2e/localstack"
	"github.com/firmly/session-transfer-filter/e2e/refissuer"
)

// Remote JWKS (SPEC §2.2b) against plugin.wasm, on the host's test clock:
// ticks run only when a test advances the clock, one second at a time, and
// each step waits for the fetches it dispatched, so every schedule below is
// exact.

const (
	jwksPath = "/keys/jwks.json"
	// bodyMarker is in every failing answer's body; no log line may hold it.
	bodyMarker = "BODY-MARKER-7f3a"
)

// ecSigner is one ES256 key as the issuer holds it.
type ecSigner struct {
	kid string
	key *ecdsa.PrivateKey
}

func newECSigner(t testing.TB, kid string) ecSigner {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return ecSigner{kid: kid, key: k}
}

func (s ecSigner) jwk() string {
	b := func(n interface{ FillBytes([]byte) []byte }) string {
		return e2etest.B64u(n.FillBytes(make([]byte, 32)))
	}
	return fmt.Sprintf(`{"kty":"EC","crv":"P-256","kid":%q,"alg":"ES256","use":"sig","x":%q,"y":%q}`, s.kid, b(s.key.X), b(s.key.Y))
}

func (s ecSigner) token(t testing.TB) string {
	signer, err := jwt.NewSignerES(jwt.ES256, s.key)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.NewBuilder(signer, jwt.WithKeyID(s.kid)).Build(e2etest.DeviceClaims())
	if err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

func keySet(keys ...ecSigner) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, k.jwk())
	}
	return `{"keys":[` + strings.Join(parts, ",") + `]}`
}

type jwksOpts struct {
	refresh, retry int // seconds; default 30 and 1
	timeoutMs      int // default 2000
	workers        int // default 1
	pauseOnHeaders bool
	failInline     bool
	jwksTLS        bool
	inlineKey      string // a JWK for auth.jwks, besides the remote keys
	remoteExtra    string // more auth.remote_jwks members, each starting with a comma
}

// jwksStack is the plugin with auth.remote_jwks only (no inline key, no
// HS256 secret), a JWKS service and a test clock.
type jwksStack struct {
	*e2etest.Stack
	jwks  *e2etest.Service
	clock *envoyhost.TestClock
}

func remoteConfig(o jwksOpts) string {
	stream := ""
	if o.pauseOnHeaders {
		stream = `"stream": {"pause_on_headers": true},`
	}
	inline := ""
	if o.inlineKey != "" {
		inline = `"jwks": {"keys": [` + o.inlineKey + `]},`
	}
	return fmt.Sprintf(`{
  "auth": {%s "remote_jwks": {"cluster": "jwks", "authority": "issuer.test", "path": %q, "timeout_ms": %d,
                           "refresh_seconds": %d, "retry_seconds": %d%s},
           "allowed_app_ids": ["app-1"]},
  "session_key": {"secret": %q}, %s
  "merchants": {%q: {"cluster": "merchant_luma", "display_name": "Luma Store", "platform_id": "magento"}},
  "backend": {"cluster": "session_backend", "authority": "sessions.internal"}
}`, inline, jwksPath, o.timeoutMs, o.refresh, o.retry, o.remoteExtra, e2etest.TestSecret, stream, e2etest.TestDomain)
}

func newJWKSStack(t *testing.T, o jwksOpts) *jwksStack {
	t.Helper()
	if o.refresh == 0 {
		o.refresh = 30
	}
	if o.retry == 0 {
		o.retry = 1
	}
	if o.timeoutMs == 0 {
		o.timeoutMs = 2000
	}
	if o.workers == 0 {
		o.workers = 1
	}
	js := &jwksStack{jwks: e2etest.NewService(t, o.jwksTLS), clock: envoyhost.NewTestClock(time.Now())}
	js.jwks.Answer(500, "not yet")
	js.Stack = e2etest.NewStack(t, e2etest.StackOpts{HostConfig: func(c *envoyhost.Config) {
		c.PluginConfig = []byte(remoteConfig(o))
		c.Clock = js.clock
		c.Workers = o.workers
		c.AllowOnHeadersStopIteration = o.pauseOnHeaders
		cl := envoyhost.Cluster{Addr: js.jwks.Addr(), FailInline: o.failInline}
		if o.jwksTLS {
			cl.TLS = e2etest.TLSTo(js.jwks, "issuer.test")
		}
		c.Clusters["jwks"] = cl
	}})
	return js
}

// advance moves the clock one second at a time (one tick each) and waits
// for the fetches each tick dispatched.
func (js *jwksStack) advance(t *testing.T, seconds int) {
	t.Helper()
	for i := 0; i < seconds; i++ {
		js.clock.Advance(time.Second)
		if err := js.Host.WaitCallouts(e2etest.TestContext(t)); err != nil {
			t.Fatalf("waiting for the JWKS fetch: %v", err)
		}
	}
}

func (js *jwksStack) fetches() int { return len(js.jwks.Received()) }

func (js *jwksStack) metric(name string) uint64 {
	n, _ := js.Host.Metric("session_transfer." + name)
	return n
}

// transfer sends a transfer with token (none when "").
func (js *jwksStack) transfer(t *testing.T, token string) *envoyhost.Response {
	t.Helper()
	r := js.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`)
	r.Headers = removeHeader(r.Headers, "x-firmly-authorization")
	if token != "" {
		r.Headers = append(r.Headers, [2]string{"x-firmly-authorization", "Bearer " + token})
	}
	return js.Do(t, r)
}

func removeHeader(p envoyhost.Pairs, name string) envoyhost.Pairs {
	var out envoyhost.Pairs
	for _, kv := range p {
		if kv[0] != name {
			out = append(out, kv)
		}
	}
	return out
}

func TestJWKSFirstFetchOnTheFirstTickAnd503Before(t *testing.T) {
	for _, mode := range []struct {
		name  string
		pause bool
	}{{"default mode", false}, {"pause_on_headers mode", true}} {
		t.Run(mode.name, func(t *testing.T) {
			js := newJWKSStack(t, jwksOpts{workers: 2, pauseOnHeaders: mode.pause})
			good := newECSigner(t, "k-1")
			js.jwks.Answer(200, keySet(good))

			if n := js.fetches(); n != 0 {
				t.Fatalf("%d fetches before the first tick, want none (the canary and plugin start never fetch)", n)
			}
			for i := 0; i < 2; i++ {
				if p := js.Host.Worker(i).TickPeriod(); p != 1000 {
					t.Errorf("worker %d tick period %d ms, want 1000", i, p)
				}
			}
			// No key at all yet: a token cannot be checked (503, on headers,
			// so nothing reaches a merchant), a missing one is still a 401.
			for i := 0; i < 2; i++ { // both workers
				e := e2etest.WantStatus(t, js.transfer(t, good.token(t)), 503, "ErrorAuthUnavailable")
				if !strings.Contains(e.Description, "not available yet") {
					t.Errorf("description %q, want it to say the keys are not available yet", e.Description)
				}
			}
			e2etest.WantStatus(t, js.transfer(t, ""), 401, "MissingAuthHeader")
			if n := len(js.Merchant.Received()); n != 0 {
				t.Errorf("the merchant was called %d times without a verified token", n)
			}

			js.advance(t, 1)
			got := js.jwks.Received()
			if len(got) != 2 {
				t.Fatalf("got %d fetches on the first tick, want one per worker (2)", len(got))
			}
			for _, r := range got {
				if r.Method != "GET" || r.Path != jwksPath || r.Header.Get("accept") != "application/json" {
					t.Errorf("fetch %s %s accept=%q, want GET %s", r.Method, r.Path, r.Header.Get("accept"), jwksPath)
				}
			}
			for _, c := range js.Host.Callouts() {
				if c.Cluster != "jwks" {
					continue
				}
				if a, _ := c.Headers.Get(":authority"); a != "issuer.test" || c.TimeoutMs != 2000 {
					t.Errorf("fetch :authority %q timeout %d ms, want issuer.test and 2000", a, c.TimeoutMs)
				}
			}
			for _, call := range js.Host.Calls() {
				if strings.HasPrefix(call, "canary proxy_on_tick") {
					t.Errorf("the canary ticked: %s", call)
				}
			}
			if s, f := js.metric("jwks_fetch_success"), js.metric("jwks_fetch_failure"); s != 2 || f != 0 {
				t.Errorf("jwks_fetch_success %d, _failure %d; want 2 and 0", s, f)
			}
			for i := 0; i < 2; i++ {
				e2etest.CartOf(t, js.transfer(t, good.token(t)))
			}
			js.advance(t, 5)
			if n := js.fetches(); n != 2 {
				t.Errorf("%d fetches 5 s after a success, want still 2 (refresh is 30 s)", n)
			}
		})
	}
}

func TestJWKSRefreshPicksUpARotationAndEmptiesTheCache(t *testing.T) {
	js := newJWKSStack(t, jwksOpts{refresh: 30})
	old, next := newECSigner(t, "k-old"), newECSigner(t, "k-new")
	js.jwks.Answer(200, keySet(old))
	js.advance(t, 1) // first fetch at +1 s
	oldTok, newTok := old.token(t), next.token(t)
	e2etest.CartOf(t, js.transfer(t, oldTok))
	e2etest.CartOf(t, js.transfer(t, oldTok)) // now from the verified-token cache
	if hits, _ := js.Host.Metric("session_transfer.token_cache_hits"); hits != 1 {
		t.Errorf("token_cache_hits %d, want 1: the repeated token was not served from the verified-token cache", hits)
	}
	e2etest.WantStatus(t, js.transfer(t, newTok), 401, "MissingAuthHeader")

	js.jwks.Answer(200, keySet(next)) // the issuer rotates: k-old is gone
	js.advance(t, 29)
	if n := js.fetches(); n != 1 {
		t.Fatalf("%d fetches before refresh_seconds passed, want 1", n)
	}
	e2etest.CartOf(t, js.transfer(t, oldTok)) // the old set is in force until the refresh
	js.advance(t, 1)
	if n := js.fetches(); n != 2 {
		t.Fatalf("%d fetches at refresh_seconds, want 2", n)
	}
	e2etest.CartOf(t, js.transfer(t, newTok))
	e := e2etest.WantStatus(t, js.transfer(t, oldTok), 401, "MissingAuthHeader")
	if !strings.Contains(e.Description, "key") {
		t.Errorf("description %q, want it to name the unknown key", e.Description)
	}
	if strings.Contains(js.Host.LogText(), oldTok) || strings.Contains(string(js.transfer(t, oldTok).Body), oldTok) {
		t.Error("a token appears in a log line or an answer")
	}
	if s := js.metric("jwks_fetch_success"); s != 2 {
		t.Errorf("jwks_fetch_success %d, want 2", s)
	}
}

// failure answers for the JWKS service; each body carries bodyMarker.
func jwksFailures(good ecSigner) []struct {
	name    string
	handler http.HandlerFunc
	opts    jwksOpts
	cause   string // in the warn line
} {
	answer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("content-type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(body))
		}
	}
	big := `{"keys":[` + good.jwk() + `],"pad":"` + bodyMarker + strings.Repeat("x", 64<<10) + `"}`
	return []struct {
		name    string
		handler http.HandlerFunc
		opts    jwksOpts
		cause   string
	}{
		{"a 500 answer", answer(500, `{"error":"`+bodyMarker+`"}`), jwksOpts{}, "answered 500"},
		{"a 404 answer", answer(404, bodyMarker), jwksOpts{}, "answered 404"},
		{"a body that is not JSON", answer(200, `{"keys":[`+bodyMarker), jwksOpts{}, "unusable key set"},
		{"an object without keys", answer(200, `{"`+bodyMarker+`":[]}`), jwksOpts{}, "unusable key set"},
		{"no usable key", answer(200, `{"keys":[{"kty":"oct","kid":"`+bodyMarker+`","k":"c2VjcmV0"},`+
			`{"kty":"EC","crv":"P-384","kid":"p384","x":"AA","y":"AA"}]}`), jwksOpts{}, "unusable key set"},
		{"an answer over 64 KiB", answer(200, big), jwksOpts{}, "larger than 65536"},
		{"a timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, jwksOpts{timeoutMs: 100}, "504"},
		{"a reset after the headers", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("content-length", "1000")
			w.WriteHeader(200)
			w.Write([]byte(`{"keys":[` + bodyMarker))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, jwksOpts{}, "reset"},
	}
}

func TestJWKSFailuresKeepTheLastGoodSetAndRetry(t *testing.T) {
	good := newECSigner(t, "k-good")
	for _, tc := range jwksFailures(good) {
		t.Run(tc.name+" keeps the last good set", func(t *testing.T) {
			o := tc.opts
			o.refresh, o.retry = 30, 2
			js := newJWKSStack(t, o)
			js.jwks.Answer(200, keySet(good))
			js.advance(t, 1)
			tok := good.token(t)
			e2etest.CartOf(t, js.transfer(t, tok))

			js.jwks.Set(tc.handler)
			js.advance(t, 30) // the refresh fails
			if n, f := js.fetches(), js.metric("jwks_fetch_failure"); n != 2 || f != 1 {
				t.Fatalf("got %d fetches and %d failures, want 2 and 1", n, f)
			}
			e2etest.CartOf(t, js.transfer(t, tok))
			warns := strings.Join(js.Host.LogsAt(envoyhost.LevelWarn), "\n")
			if !strings.Contains(warns, "remote JWKS") || !strings.Contains(warns, tc.cause) || !strings.Contains(warns, "keeping the last good key set") {
				t.Errorf("warn lines %q, want the cause %q and that the last good set is kept", warns, tc.cause)
			}
			if strings.Contains(js.Host.LogText(), bodyMarker) {
				t.Errorf("the answer's body was logged:\n%s", js.Host.LogText())
			}
			// The retry comes retry_seconds (2) after the failure.
			js.advance(t, 1)
			if n := js.fetches(); n != 2 {
				t.Fatalf("%d fetches 1 s after the failure, want 2", n)
			}
			js.jwks.Answer(200, keySet(good))
			js.advance(t, 1)
			if n, s := js.fetches(), js.metric("jwks_fetch_success"); n != 3 || s != 2 {
				t.Fatalf("got %d fetches and %d successes, want the retry (3) to succeed (2)", n, s)
			}
			e2etest.CartOf(t, js.transfer(t, tok))
		})
	}
}

func TestJWKSRetryDelayDoublesUpToRefresh(t *testing.T) {
	js := newJWKSStack(t, jwksOpts{refresh: 30, retry: 2})
	js.jwks.Answer(503, bodyMarker)
	// Fetches at +1 (first tick), then +2, +4, +8, +16 after each failure,
	// then capped at refresh: +30, +30.
	var at []int
	last := 0
	for sec := 1; sec <= 1+2+4+8+16+30+30; sec++ {
		js.advance(t, 1)
		if n := js.fetches(); n != last {
			at, last = append(at, sec), n
		}
	}
	want := []int{1, 3, 7, 15, 31, 61, 91}
	if fmt.Sprint(at) != fmt.Sprint(want) {
		t.Errorf("fetches at %v s, want %v", at, want)
	}
	if f := js.metric("jwks_fetch_failure"); f != uint64(len(want)) {
		t.Errorf("jwks_fetch_failure %d, want %d", f, len(want))
	}
	// Never a key: still 503 for a token, 401 without one.
	e2etest.WantStatus(t, js.transfer(t, newECSigner(t, "k").token(t)), 503, "ErrorAuthUnavailable")
	e2etest.WantStatus(t, js.transfer(t, ""), 401, "MissingAuthHeader")
	warns := js.Host.LogsAt(envoyhost.LevelWarn)
	if len(warns) == 0 || !strings.Contains(warns[0], "no remote key is loaded yet") {
		t.Errorf("warn lines %q, want them to say no key is loaded yet", warns)
	}
	// A success resets the delay.
	good := newECSigner(t, "k-good")
	js.jwks.Answer(200, keySet(good))
	js.advance(t, 30)
	e2etest.CartOf(t, js.transfer(t, good.token(t)))
}

func TestJWKSInlineDispatchFailureIsAFailedFetch(t *testing.T) {
	js := newJWKSStack(t, jwksOpts{retry: 3, failInline: true})
	js.advance(t, 1)
	if f := js.metric("jwks_fetch_failure"); f != 1 {
		t.Fatalf("jwks_fetch_failure %d, want 1", f)
	}
	js.advance(t, 2)
	if f := js.metric("jwks_fetch_failure"); f != 1 {
		t.Fatalf("jwks_fetch_failure %d before retry_seconds, want 1", f)
	}
	js.advance(t, 1)
	if f := js.metric("jwks_fetch_failure"); f != 2 {
		t.Errorf("jwks_fetch_failure %d after retry_seconds, want 2", f)
	}
	if w := strings.Join(js.Host.LogsAt(envoyhost.LevelWarn), "\n"); !strings.Contains(w, "dispatch") {
		t.Errorf("warn lines %q, want the dispatch failure", w)
	}
}

func TestJWKSAtMostOneFetchInFlight(t *testing.T) {
	js := newJWKSStack(t, jwksOpts{timeoutMs: 60_000})
	good := newECSigner(t, "k-good")
	release := make(chan struct{})
	var mu sync.Mutex
	inFlight, most := 0, 0
	js.jwks.Set(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.Write([]byte(keySet(good)))
	})
	// Many ticks while the first fetch hangs; do not wait for it.
	for i := 0; i < 40; i++ {
		js.clock.Advance(time.Second)
	}
	if n := len(js.Host.Callouts()); n != 1 {
		t.Errorf("%d fetches dispatched during 40 ticks with one outstanding, want 1", n)
	}
	close(release)
	if err := js.Host.WaitCallouts(e2etest.TestContext(t)); err != nil {
		t.Fatal(err)
	}
	if most != 1 || js.metric("jwks_fetch_success") != 1 {
		t.Errorf("at most %d concurrent fetches, %d successes; want 1 and 1", most, js.metric("jwks_fetch_success"))
	}
	e2etest.CartOf(t, js.transfer(t, good.token(t)))
	// The refresh is counted from the answer, which came 40 s late.
	js.advance(t, 29)
	if n := js.fetches(); n != 1 {
		t.Errorf("%d fetches 29 s after the answer, want 1", n)
	}
	js.advance(t, 1)
	if n := js.fetches(); n != 2 {
		t.Errorf("%d fetches 30 s after the answer, want 2", n)
	}
}

func TestJWKSOverTLS(t *testing.T) {
	js := newJWKSStack(t, jwksOpts{jwksTLS: true})
	good := newECSigner(t, "k-tls")
	js.jwks.Answer(200, keySet(good))
	js.advance(t, 1)
	e2etest.CartOf(t, js.transfer(t, good.token(t)))
}

// The local stack: envoy.yaml's remote_jwks against the reference issuer.
// A rotation through the issuer's admin call reaches the running filter at
// its next refresh, with no restart.
func TestLocalStackKeyRotation(t *testing.T) {
	root, err := localstack.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	clock := envoyhost.NewTestClock(time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := localstack.Start(ctx, localstack.Options{RepoRoot: root, Wasm: e2etest.PluginWasm(t), Ephemeral: true, DataDir: t.TempDir(), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Issuer == nil || st.IssuerURL == "" {
		t.Fatal("envoy.yaml has no remote_jwks served by the reference issuer")
	}
	send := func(tok string) e2etest.LocalResult {
		return e2etest.LocalTransferWith(t, st, tok, `{"handle":"`+e2etest.DemoHandle+`"}`)
	}
	oldTok, err := localstack.DevToken(root, "dev-device-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r := send(oldTok); r.Status != 200 {
		t.Fatalf("the development token before rotation: got %d %+v, want 200", r.Status, r.Err)
	}

	e2etest.Admin(t, st, "POST", st.IssuerURL+"/_admin/rotate", nil)
	minted, err := refissuer.MintFrom(st.Client, st.IssuerURL, refissuer.TokenRequest{DeviceID: "dev-device-2", AppID: "local-dev", TTLSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	if minted.Kid != "dev-2" {
		t.Fatalf("minted with kid %q, want dev-2", minted.Kid)
	}
	refresh := st.Plugin.Auth.RemoteJWKS.RefreshSeconds
	for i := 0; i < refresh; i++ {
		clock.Advance(time.Second)
		st.Host.WaitCallouts(ctx)
	}
	// Both workers refreshed (the requests below alternate between them).
	for i := 0; i < 2; i++ {
		if r := send(minted.Token); r.Status != 200 {
			t.Fatalf("token of the new key: got %d %+v, want 200 without a restart", r.Status, r.Err)
		}
		if r := send(oldTok); r.Status != 401 || r.Err.Error != "MissingAuthHeader" {
			t.Fatalf("token of the removed key: got %d %+v, want 401 MissingAuthHeader", r.Status, r.Err)
		}
	}
}

func TestJWKSAnswerOfExactly64KiBIsUsable(t *testing.T) {
	js := newJWKSStack(t, jwksOpts{})
	good := newECSigner(t, "k-good")
	set := keySet(good)
	pad := 64<<10 - len(set) - len(`,"pad":""`)
	js.jwks.Answer(200, set[:len(set)-1]+`,"pad":"`+strings.Repeat("x", pad)+`"}`)
	js.advance(t, 1)
	if s := js.metric("jwks_fetch_success"); s != 1 {
		t.Fatalf("jwks_fetch_success %d for a 65536-byte answer, want 1; logs:\n%s", s, js.Host.LogText())
	}
	e2etest.CartOf(t, js.transfer(t, good.token(t)))
}

func TestJWKSInlineKeysAreAcceptedBeforeAndBesideRemoteKeys(t *testing.T) {
	inline, remote := newECSigner(t, "k-inline"), newECSigner(t, "k-remote")
	js := newJWKSStack(t, jwksOpts{inlineKey: inline.jwk()})
	// An inline key works before the first fetch. A token no inline key
	// can check may be of a remote key that has not arrived: 503, not 401.
	e2etest.CartOf(t, js.transfer(t, inline.token(t)))
	e2etest.WantStatus(t, js.transfer(t, remote.token(t)), 503, "ErrorAuthUnavailable")
	js.jwks.Answer(200, keySet(remote))
	js.advance(t, 1)
	e2etest.CartOf(t, js.transfer(t, remote.token(t)))
	e2etest.CartOf(t, js.transfer(t, inline.token(t)))
	// A rotation away from every remote key never removes the inline one.
	js.jwks.Answer(200, keySet(newECSigner(t, "k-other")))
	js.advance(t, 30)
	e2etest.CartOf(t, js.transfer(t, inline.token(t)))
	e2etest.WantStatus(t, js.transfer(t, remote.token(t)), 401, "MissingAuthHeader")
}

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
)

// The remote JWKS wiring through proxytest: tick period, dispatch from the
// root context, one fetch in flight, failures kept and retried, keys used.
// The compiled module runs the same behaviours in e2e/authtest/jwks_test.go.

const remoteConfig = `{"auth":{"remote_jwks":{"cluster":"jwks","authority":"issuer.test","path":"/jwks","timeout_ms":1500,
	  "refresh_seconds":60,"retry_seconds":2}},"session_key":{"secret":"test-secret-0123456789abcdef0123456789abcdef"},
	  "merchants":{"staging.luma.gift":{"cluster":"merchant"}},"backend":{"cluster":"backend"}}`

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func esToken(t *testing.T, k *ecdsa.PrivateKey, kid string) string {
	claims := fmt.Sprintf(`{"device_id":"dev-1","exp":%d}`, time.Now().Unix()+300)
	in := b64([]byte(`{"alg":"ES256","kid":"`+kid+`"}`)) + "." + b64([]byte(claims))
	h := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64(append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...))
}

func TestPluginFetchesRemoteJWKSOnTheTick(t *testing.T) {
	clock := time.Now()
	now = func() time.Time { return clock }
	t.Cleanup(func() { now = time.Now })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set := fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":%q,"y":%q}]}`,
		b64(key.X.FillBytes(make([]byte, 32))), b64(key.Y.FillBytes(make([]byte, 32))))

	host := emulator(t, remoteConfig)
	if p := host.GetTickPeriod(); p != 1000 {
		t.Errorf("tick period %d ms, want 1000", p)
	}
	fetches := func() []proxytest.HttpCalloutAttribute {
		return host.GetCalloutAttributesFromContext(proxytest.PluginContextID)
	}
	transfer := func() (*proxytest.LocalHttpResponse, []proxytest.HttpCalloutAttribute) {
		id := host.InitializeHttpContext()
		h := transferHeaders()
		h[len(h)-1][1] = esToken(t, key, "k1")
		host.CallOnRequestHeaders(id, h, false)
		host.CallOnRequestBody(id, []byte(`{"handle":"`+uuid+`"}`), true)
		return host.GetSentLocalResponse(id), host.GetCalloutAttributesFromContext(id)
	}
	if n := len(fetches()); n != 0 {
		t.Fatalf("%d fetches before the first tick", n)
	}
	if r, _ := transfer(); errorName(t, r) != "503 ErrorAuthUnavailable" {
		t.Fatalf("before any key: got %s, want 503 ErrorAuthUnavailable", errorName(t, r))
	}

	host.Tick()
	host.Tick() // the first fetch is still in flight
	got := fetches()
	if len(got) != 1 {
		t.Fatalf("got %d fetches after two ticks with one in flight, want 1", len(got))
	}
	want := map[string]string{":method": "GET", ":path": "/jwks", ":authority": "issuer.test"}
	for _, kv := range got[0].Headers {
		if w, ok := want[kv[0]]; ok && w != kv[1] {
			t.Errorf("fetch header %s = %q, want %q", kv[0], kv[1], w)
		}
	}
	if got[0].Upstream != "jwks" {
		t.Errorf("fetch to cluster %q, want jwks", got[0].Upstream)
	}

	host.CallOnHttpCallResponse(got[0].CalloutID, [][2]string{{":status", "500"}}, nil, []byte("SECRET-BODY"))
	if f, _ := host.GetCounterMetric("session_transfer.jwks_fetch_failure"); f != 1 {
		t.Errorf("jwks_fetch_failure %d, want 1", f)
	}
	warns := strings.Join(host.GetWarnLogs(), "\n")
	if !strings.Contains(warns, "answered 500") || strings.Contains(warns, "SECRET-BODY") {
		t.Errorf("warn lines %q: want the status, never the body", warns)
	}
	clock = clock.Add(time.Second)
	host.Tick()
	if n := len(fetches()); n != 1 {
		t.Fatalf("%d fetches 1 s after a failure, want no retry before retry_seconds (2 s)", n)
	}
	clock = clock.Add(time.Second)
	host.Tick()
	got = fetches()
	if len(got) != 2 {
		t.Fatalf("%d fetches 2 s after a failure, want the retry", len(got))
	}
	host.CallOnHttpCallResponse(got[1].CalloutID, [][2]string{{":status", "200"}}, nil, []byte(set))
	if s, _ := host.GetCounterMetric("session_transfer.jwks_fetch_success"); s != 1 {
		t.Fatalf("jwks_fetch_success %d, want 1; logs %q", s, host.GetWarnLogs())
	}
	r, callouts := transfer()
	if r != nil || len(callouts) != 1 || callouts[0].Upstream != "merchant" {
		t.Errorf("with the key loaded: local response %v, callouts %+v; want the merchant export", r, callouts)
	}
}

func TestPluginWithoutRemoteJWKSSetsNoTick(t *testing.T) {
	host := emulator(t, pluginConfig)
	if p := host.GetTickPeriod(); p != 0 {
		t.Errorf("tick period %d ms without remote_jwks, want none", p)
	}
	host.Tick()
	if n := len(host.GetCalloutAttributesFromContext(proxytest.PluginContextID)); n != 0 {
		t.Errorf("%d fetches without remote_jwks", n)
	}
}

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// The refetch on an unknown kid through proxytest: the request pauses on
// its headers, the fetch goes out from the root context on the 1 ms tick,
// and the request goes on when it brings the key. The compiled module runs
// the same behaviours, both header modes included, in e2e/refetch_test.go.
func TestPluginRefetchesOnAnUnknownKid(t *testing.T) {
	clock := time.Now()
	now = func() time.Time { return clock }
	t.Cleanup(func() { now = time.Now })
	jwk := func(kid string, k *ecdsa.PrivateKey) string {
		return fmt.Sprintf(`{"kty":"EC","crv":"P-256","kid":%q,"x":%q,"y":%q}`, kid,
			b64(k.X.FillBytes(make([]byte, 32))), b64(k.Y.FillBytes(make([]byte, 32))))
	}
	oldKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	host := emulator(t, strings.Replace(remoteConfig, `"retry_seconds":2`, `"retry_seconds":2,"min_refetch_seconds":30`, 1))
	fetches := func() []proxytest.HttpCalloutAttribute {
		return host.GetCalloutAttributesFromContext(proxytest.PluginContextID)
	}
	host.Tick()
	host.CallOnHttpCallResponse(fetches()[0].CalloutID, [][2]string{{":status", "200"}}, nil, []byte(`{"keys":[`+jwk("k-old", oldKey)+`]}`))
	clock = clock.Add(31 * time.Second)

	id := host.InitializeHttpContext()
	h := transferHeaders()
	h[len(h)-1][1] = esToken(t, newKey, "k-new")
	if a := host.CallOnRequestHeaders(id, h, false); a != types.ActionPause {
		t.Fatalf("headers: %v, want a pause for the refetch", a)
	}
	if r := host.GetSentLocalResponse(id); r != nil {
		t.Fatalf("answered %d before the refetch", r.StatusCode)
	}
	if n := len(fetches()); n != 1 {
		t.Fatalf("%d fetches: the refetch went out from the stream instead of the root tick", n)
	}
	if p := host.GetTickPeriod(); p != refetchTickMs {
		t.Fatalf("tick period %d ms, want %d for the refetch", p, refetchTickMs)
	}
	host.Tick()
	if n := len(fetches()); n != 2 {
		t.Fatalf("%d fetches after the tick, want the refetch", n)
	}
	if p := host.GetTickPeriod(); p != jwksTickMs {
		t.Errorf("tick period %d ms after the refetch, want %d again", p, jwksTickMs)
	}
	if r, _ := host.GetCounterMetric("session_transfer.jwks_refetch_on_unknown_kid"); r != 1 {
		t.Errorf("jwks_refetch_on_unknown_kid %d, want 1", r)
	}
	// A second unknown kid meanwhile waits on the same fetch.
	id2 := host.InitializeHttpContext()
	h2 := transferHeaders()
	h2[len(h2)-1][1] = esToken(t, oldKey, "k-nowhere")
	host.CallOnRequestHeaders(id2, h2, false)

	host.CallOnHttpCallResponse(fetches()[1].CalloutID, [][2]string{{":status", "200"}}, nil,
		[]byte(`{"keys":[`+jwk("k-old", oldKey)+`,`+jwk("k-new", newKey)+`]}`))
	if r := host.GetSentLocalResponse(id2); errorName(t, r) != "401 MissingAuthHeader" {
		t.Errorf("the kid still unknown after the refetch: got %s, want 401", errorName(t, r))
	}
	if r := host.GetSentLocalResponse(id); r != nil {
		t.Fatalf("the request of the new key answered %d %s", r.StatusCode, r.Data)
	}
	host.CallOnRequestBody(id, []byte(`{"handle":"`+uuid+`"}`), true)
	if c := host.GetCalloutAttributesFromContext(id); len(c) != 1 || c[0].Upstream != "merchant" {
		t.Errorf("after the refetch: callouts %+v, want the merchant export", c)
	}
	if n := len(fetches()); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

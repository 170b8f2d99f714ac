package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// Native tests of the wiring through the SDK's proxytest emulator. The same
// behaviours run against the compiled module in e2e/.

const (
	hs           = "hs256-secret-0123456789abcdef0123456789"
	uuid         = "3f1c2a9e-7b4d-4e8a-9c2f-5d6e7f8a9b0c"
	pluginConfig = `{"auth":{"hs256_secret":"` + hs + `"},"session_key":{"secret":"test-secret-0123456789abcdef0123456789abcdef"},
	  "merchants":{"staging.luma.gift":{"cluster":"merchant"}},"backend":{"cluster":"backend"}}`
	cart = `{"cart":{"currency":"USD","line_items":[{"platform_line_item_id":"0","sku":"A","description":"d","quantity":1,"unit_price":100,"available_quantity":1}]}}`
)

func hsToken() string {
	claims := fmt.Sprintf(`{"device_id":"dev-1","exp":%d}`, time.Now().Unix()+300)
	in := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	m := hmac.New(sha256.New, []byte(hs))
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func emulator(t *testing.T, cfg string) proxytest.HostEmulator {
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(cfg))
	host, reset := proxytest.NewHostEmulator(opt)
	t.Cleanup(reset)
	if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
		t.Fatalf("plugin did not start: %v", host.GetCriticalLogs())
	}
	return host
}

func transferHeaders() [][2]string {
	return [][2]string{
		{":method", "POST"}, {":path", "/api/v2/domains/staging.luma.gift/session/transfer"}, {":authority", "api"},
		{"content-type", "application/json"}, {"x-firmly-authorization", hsToken()},
	}
}

func errorName(t *testing.T, r *proxytest.LocalHttpResponse) string {
	t.Helper()
	if r == nil {
		t.Fatal("no local response")
	}
	var e struct{ Error string }
	json.Unmarshal(r.Data, &e)
	return fmt.Sprintf("%d %s", r.StatusCode, e.Error)
}

func TestPluginRefusesBadConfiguration(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(`{"session_key":{"secret":"short"}}`))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if st := host.StartPlugin(); st != types.OnPluginStartStatusFailed {
		t.Fatal("started with a short secret")
	}
	logs := host.GetCriticalLogs()
	if len(logs) != 1 || !strings.Contains(logs[0], `"session_key.secret"`) || strings.Contains(logs[0], "short") {
		t.Errorf("critical logs %q: want one line naming the key, without the value", logs)
	}
}

func TestPluginPassesOtherRequests(t *testing.T) {
	host := emulator(t, pluginConfig)
	id := host.InitializeHttpContext()
	if a := host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/health"}}, false); a != types.ActionContinue {
		t.Errorf("headers action %v", a)
	}
	if a := host.CallOnRequestBody(id, []byte("x"), true); a != types.ActionContinue {
		t.Errorf("body action %v", a)
	}
	if host.GetSentLocalResponse(id) != nil || len(host.GetCalloutAttributesFromContext(id)) != 0 {
		t.Error("a non-transfer request was touched")
	}
}

func TestPluginAnswersHeaderErrorsAtOnce(t *testing.T) {
	host := emulator(t, pluginConfig)
	id := host.InitializeHttpContext()
	h := transferHeaders()[:4]
	if a := host.CallOnRequestHeaders(id, h, false); a != types.ActionPause {
		t.Errorf("action %v", a)
	}
	if got := errorName(t, host.GetSentLocalResponse(id)); got != "401 MissingAuthHeader" {
		t.Errorf("got %s", got)
	}
}

func TestPluginTransfer(t *testing.T) {
	host := emulator(t, pluginConfig)
	id := host.InitializeHttpContext()
	if a := host.CallOnRequestHeaders(id, transferHeaders(), false); a != types.ActionContinue {
		t.Fatalf("headers action %v (default mode continues headers)", a)
	}
	body := []byte(`{"handle":"` + uuid + `"}`)
	if a := host.CallOnRequestBody(id, body[:10], false); a != types.ActionPause {
		t.Fatalf("partial body action %v", a)
	}
	if a := host.CallOnRequestBody(id, body[10:], true); a != types.ActionPause {
		t.Fatalf("body action %v", a)
	}
	co := host.GetCalloutAttributesFromContext(id)
	if len(co) != 1 || co[0].Upstream != "merchant" {
		t.Fatalf("callouts %+v", co)
	}
	host.CallOnHttpCallResponse(co[0].CalloutID, [][2]string{{":status", "200"}}, nil, []byte(cart))
	co = host.GetCalloutAttributesFromContext(id) // proxytest keeps every record
	if len(co) != 2 || co[1].Upstream != "backend" {
		t.Fatalf("callouts after the merchant answered %+v", co)
	}
	host.CallOnHttpCallResponse(co[1].CalloutID, [][2]string{{":status", "201"}}, nil, nil)
	r := host.GetSentLocalResponse(id)
	if r == nil || r.StatusCode != 200 || !strings.Contains(string(r.Data), `"schema_version":"2.0"`) {
		t.Fatalf("response %+v", r)
	}
}

func TestPluginPauseOnHeadersMode(t *testing.T) {
	host := emulator(t, strings.Replace(pluginConfig, `"backend":`, `"stream":{"pause_on_headers":true},"backend":`, 1))
	id := host.InitializeHttpContext()
	if a := host.CallOnRequestHeaders(id, transferHeaders(), false); a != types.ActionPause {
		t.Errorf("headers action %v, want Pause", a)
	}
}

func TestPluginTrailersEndTheBody(t *testing.T) {
	host := emulator(t, pluginConfig)
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, transferHeaders(), false)
	host.CallOnRequestBody(id, []byte(`{"handle":"`+uuid+`"}`), false)
	if co := host.GetCalloutAttributesFromContext(id); len(co) != 0 {
		t.Fatal("dispatched before the end of the body")
	}
	host.CallOnRequestTrailers(id, [][2]string{{"x-t", "1"}})
	if co := host.GetCalloutAttributesFromContext(id); len(co) != 1 {
		t.Fatalf("trailers did not end the body: %+v %v", co, host.GetSentLocalResponse(id))
	}
}

func TestPluginNoWriteOnceTheStreamIsGone(t *testing.T) {
	host := emulator(t, pluginConfig)
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, transferHeaders(), false)
	host.CallOnRequestBody(id, []byte(`{"handle":"`+uuid+`"}`), true)
	co := host.GetCalloutAttributesFromContext(id)
	host.CompleteHttpContext(id) // the client went away
	host.CallOnHttpCallResponse(co[0].CalloutID, [][2]string{{":status", "200"}}, nil, []byte(cart))
	for _, c := range host.GetCalloutAttributesFromContext(id) {
		if c.Upstream == "backend" {
			t.Errorf("backend write dispatched for a gone stream: %+v", c)
		}
	}
}

func TestPluginRecoversPanics(t *testing.T) {
	host := emulator(t, pluginConfig)
	saved := now
	now = func() time.Time { panic("clock exploded") }
	defer func() { now = saved }()
	id := host.InitializeHttpContext()
	if a := host.CallOnRequestHeaders(id, transferHeaders(), false); a != types.ActionPause {
		t.Errorf("action %v", a)
	}
	if got := errorName(t, host.GetSentLocalResponse(id)); got != "500 ErrorInternal" {
		t.Errorf("got %s", got)
	}
	if logs := host.GetCriticalLogs(); len(logs) != 1 || !strings.Contains(logs[0], "clock exploded") {
		t.Errorf("critical logs %q", logs)
	}
}

// The pass-through fast path reads only :path: no clock read, no header
// map, no answer, whatever the method.
func TestPluginPassThroughReadsNoClock(t *testing.T) {
	host := emulator(t, pluginConfig)
	saved := now
	now = func() time.Time { panic("the clock was read") }
	defer func() { now = saved }()
	for _, path := range []string{"/health", "/api/v2/domains/staging.luma.gift/session", "/api/v2/products?x=/session/transfer"} {
		id := host.InitializeHttpContext()
		if a := host.CallOnRequestHeaders(id, [][2]string{{":method", "POST"}, {":path", path}}, false); a != types.ActionContinue {
			t.Errorf("%s: got action %v, want Continue", path, a)
		}
		if r := host.GetSentLocalResponse(id); r != nil {
			t.Errorf("%s: got a local response %d", path, r.StatusCode)
		}
	}
	if logs := host.GetCriticalLogs(); len(logs) != 0 {
		t.Errorf("critical logs %q", logs)
	}
}

// Each answer leaves its outcome and merchant as filter state, and counts
// under its tagged name.
func TestPluginReportsTheOutcome(t *testing.T) {
	host := emulator(t, pluginConfig)
	id := host.InitializeHttpContext()
	h := transferHeaders()
	h[4] = [2]string{"x-firmly-authorization", "not-a-token"}
	host.CallOnRequestHeaders(id, h, false)
	for key, want := range map[string]string{"session_transfer.outcome": "MissingAuthHeader", "session_transfer.merchant": "none"} {
		if got, err := host.GetProperty([]string{key}); err != nil || string(got) != want {
			t.Errorf("%s: got %q (%v), want %q", key, got, err, want)
		}
	}
	if _, err := host.GetProperty([]string{"session_transfer.merchant_status"}); err == nil {
		t.Error("merchant_status set although no export call was made")
	}
	name := "session_transfer_outcome=.=MissingAuthHeader;.;session_transfer_merchant=.=none;.;session_transfer.requests"
	if v, err := host.GetCounterMetric(name); err != nil || v != 1 {
		t.Errorf("counter %s: got %d (%v), want 1", name, v, err)
	}
}

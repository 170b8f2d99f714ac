package transfertest

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/e2e/wasmbuild"
)

// Every documented error, from the compiled plugin.wasm in the host: status,
// exact error name, how far the transfer got (merchant calls), and never a
// backend write.
func TestEveryErrorFromTheModule(t *testing.T) {
	body := `{"handle":"` + e2etest.StringHandle + `"}`
	withHeaders := func(h ...[2]string) func(*e2etest.Stack, *testing.T) *envoyhost.Request {
		return func(st *e2etest.Stack, t *testing.T) *envoyhost.Request {
			r := st.Req(t, body)
			r.Headers = h
			return r
		}
	}
	jsonCT := [2]string{"content-type", "application/json"}
	resetConn := func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
	resetMidBody := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-length", "1000")
		w.WriteHeader(200)
		w.Write([]byte(`{"cart":`))
		w.(http.Flusher).Flush()
		resetConn(w, r)
	}
	slow := func(w http.ResponseWriter, r *http.Request) { time.Sleep(400 * time.Millisecond); w.WriteHeader(200) }
	for _, c := range []struct {
		name          string
		opts          e2etest.StackOpts
		req           func(*e2etest.Stack, *testing.T) *envoyhost.Request
		setup         func(*e2etest.Stack)
		status        int
		errName       string
		description   string // substring
		merchantCalls int
	}{
		{name: "GET is 405", status: 405, errName: "ErrorMethodNotAllowed",
			req: func(st *e2etest.Stack, t *testing.T) *envoyhost.Request {
				r := st.Req(t, "")
				r.Method = "GET"
				return r
			}},
		{name: "no token is 401", status: 401, errName: "MissingAuthHeader", description: "missing", req: withHeaders(jsonCT)},
		{name: "repeated token is 401", status: 401, errName: "MissingAuthHeader", description: "repeated",
			req: func(st *e2etest.Stack, t *testing.T) *envoyhost.Request {
				return st.Req(t, body, [2]string{"x-firmly-authorization", e2etest.ValidToken(t)})
			}},
		{name: "expired token is 401", status: 401, errName: "MissingAuthHeader", description: "token expired",
			req: func(st *e2etest.Stack, t *testing.T) *envoyhost.Request {
				c := e2etest.DeviceClaims()
				c["exp"] = time.Now().Add(-time.Hour).Unix()
				return withHeaders(jsonCT, [2]string{"x-firmly-authorization", e2etest.Token(t, "ES256", "ec-1", c)})(st, t)
			}},
		{name: "alg none is 401", status: 401, errName: "MissingAuthHeader", description: `algorithm "none"`,
			req: withHeaders(jsonCT, [2]string{"x-firmly-authorization", "eyJhbGciOiJub25lIn0.eyJkZXZpY2VfaWQiOiJ4In0."})},
		{name: "invalid domain is 400", status: 400, errName: "ErrorInvalidInputBody", description: "domain:",
			req: func(st *e2etest.Stack, t *testing.T) *envoyhost.Request {
				r := st.Req(t, body)
				r.Path = "/api/v2/domains/bad_domain/session/transfer"
				return r
			}},
		{name: "unknown merchant is 422", status: 422, errName: "ErrorCannotTransferSession", description: "not enabled",
			req: func(st *e2etest.Stack, t *testing.T) *envoyhost.Request {
				r := st.Req(t, body)
				r.Path = "/api/v2/domains/other.shop/session/transfer"
				return r
			}},
		{name: "text content type is 400", status: 400, errName: "ErrorInvalidInputBody", description: "content-type",
			req: func(st *e2etest.Stack, t *testing.T) *envoyhost.Request {
				return withHeaders([2]string{"content-type", "text/plain"}, [2]string{"x-firmly-authorization", e2etest.ValidToken(t)})(st, t)
			}},
		{name: "body over the limit is 413", status: 413, errName: "ErrorPayloadTooLarge",
			req: func(st *e2etest.Stack, t *testing.T) *envoyhost.Request {
				r := st.Req(t, `{"handle":"`+strings.Repeat("a", 70000)+`"}`)
				r.ChunkSize = 8192
				return r
			}},
		{name: "short handle is 400", status: 400, errName: "ErrorInvalidInputBody", description: "handle: must be at least 36 characters",
			req: func(st *e2etest.Stack, t *testing.T) *envoyhost.Request { return st.Req(t, `{"handle":"short"}`) }},
		{name: "expired merchant session is 422", status: 422, errName: "ErrorCannotTransferSession", merchantCalls: 1,
			setup: func(st *e2etest.Stack) { st.Merchant.Answer(410, `{}`) }},
		{name: "merchant 500 is 503", status: 503, errName: "ErrorStoreUnavailable", merchantCalls: 1,
			setup: func(st *e2etest.Stack) { st.Merchant.Answer(500, `oops`) }},
		{name: "merchant timeout is 503", status: 503, errName: "ErrorStoreUnavailable", merchantCalls: 1,
			opts: e2etest.StackOpts{MerchantTimeoutMs: 100}, setup: func(st *e2etest.Stack) { st.Merchant.Set(slow) }},
		{name: "merchant reset before headers is 503", status: 503, errName: "ErrorStoreUnavailable", merchantCalls: 1,
			setup: func(st *e2etest.Stack) { st.Merchant.Set(resetConn) }},
		{name: "merchant reset mid-body is 503", status: 503, errName: "ErrorStoreUnavailable", merchantCalls: 1,
			setup: func(st *e2etest.Stack) { st.Merchant.Set(resetMidBody) }},
		{name: "merchant dispatch failing inline is 503", status: 503, errName: "ErrorStoreUnavailable",
			opts: e2etest.StackOpts{HostConfig: e2etest.FailInline("merchant_luma")}},
		{name: "merchant 204 is 502", status: 502, errName: "ErrorInvalidMerchantResponse", merchantCalls: 1,
			setup: func(st *e2etest.Stack) { st.Merchant.Answer(204, ``) }},
		{name: "merchant bad JSON is 502", status: 502, errName: "ErrorInvalidMerchantResponse", merchantCalls: 1,
			setup: func(st *e2etest.Stack) { st.Merchant.Answer(200, `{"cart":`) }},
		{name: "merchant unknown currency is 502", status: 502, errName: "ErrorInvalidMerchantResponse", description: "currency", merchantCalls: 1,
			setup: func(st *e2etest.Stack) {
				st.Merchant.Answer(200, strings.Replace(e2etest.LumaCart, `"USD"`, `"XYZ"`, 1))
			}},
		{name: "merchant answer over 1 MiB is 502", status: 502, errName: "ErrorInvalidMerchantResponse", description: "larger than", merchantCalls: 1,
			setup: func(st *e2etest.Stack) {
				st.Merchant.Answer(200, strings.Replace(e2etest.LumaCart, `"coupons":[`, `"coupons":["`+strings.Repeat("x", 1<<20)+`",`, 1))
			}},
		{name: "empty cart is 422", status: 422, errName: "ErrorNoLineItem", merchantCalls: 1,
			setup: func(st *e2etest.Stack) { st.Merchant.Answer(200, `{"cart":{"currency":"USD","line_items":[]}}`) }},
		{name: "short stock is 422 naming the SKU", status: 422, errName: "ErrorNotEnoughStock", description: "MH07-XS-Gray (wanted 2, available 1)", merchantCalls: 1,
			setup: func(st *e2etest.Stack) {
				st.Merchant.Answer(200, strings.Replace(e2etest.LumaCart, `"available_quantity":10`, `"available_quantity":1`, 1))
			}},
		{name: "backend 500 is 503", status: 503, errName: "ErrorSessionStoreUnavailable", merchantCalls: 1,
			setup: func(st *e2etest.Stack) { st.Backend.Answer(500, `no`) }},
		{name: "backend timeout is 503", status: 503, errName: "ErrorSessionStoreUnavailable", merchantCalls: 1,
			opts: e2etest.StackOpts{BackendTimeoutMs: 100}, setup: func(st *e2etest.Stack) { st.Backend.Set(slow) }},
		{name: "backend reset is 503", status: 503, errName: "ErrorSessionStoreUnavailable", merchantCalls: 1,
			setup: func(st *e2etest.Stack) { st.Backend.Set(resetConn) }},
		{name: "backend dispatch failing inline is 503", status: 503, errName: "ErrorSessionStoreUnavailable", merchantCalls: 1,
			opts: e2etest.StackOpts{HostConfig: e2etest.FailInline("session_backend")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := e2etest.NewStack(t, c.opts)
			if c.setup != nil {
				c.setup(st)
			}
			r := st.Req(t, body)
			if c.req != nil {
				r = c.req(st, t)
			}
			resp := st.Do(t, r)
			e := e2etest.DecodeError(t, resp)
			if resp.Status != c.status || e.Error != c.errName || !strings.Contains(e.Description, c.description) {
				t.Errorf("got %d %s %q, want %d %s containing %q", resp.Status, e.Error, e.Description, c.status, c.errName, c.description)
			}
			if got := len(st.Merchant.Received()); got != c.merchantCalls {
				t.Errorf("merchant got %d calls, want %d", got, c.merchantCalls)
			}
			wrote := 0
			for _, b := range st.Backend.Received() {
				if b.Method == "PUT" {
					wrote++
				}
			}
			// The backend failure cases did receive the one write; no other
			// case may write at all.
			if c.errName == "ErrorSessionStoreUnavailable" && !strings.Contains(c.name, "inline") {
				if wrote != 1 {
					t.Errorf("backend got %d writes, want the one that failed", wrote)
				}
			} else if wrote != 0 {
				t.Errorf("backend got %d writes on a failed transfer", wrote)
			}
			for _, secret := range []string{e2etest.TestSecret, e2etest.TestHS256, e2etest.StringHandle} {
				if strings.Contains(string(resp.Body), secret) || strings.Contains(st.Host.LogText(), secret) {
					t.Errorf("a secret or the handle leaked into the answer or the logs")
				}
			}
		})
	}
}

func TestCORSPreflightPassesThrough(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	resp := st.Do(t, &envoyhost.Request{Method: "OPTIONS", Path: e2etest.TransferPath})
	if resp.Status != 200 || string(resp.Body) != "app" || resp.Local {
		t.Errorf("got %d %q, want the app's answer", resp.Status, resp.Body)
	}
}

// A panic inside the module is recovered: 500 ErrorInternal, and the VM
// lives on, even on Envoy 1.33 where an unrecovered panic dies on the way.
func TestRecoveredPanicInTheModule(t *testing.T) {
	wasm := wasmbuild.ForTest(t, wasmbuild.PluginPackage, "e2e_panic")
	st := e2etest.NewStack(t, e2etest.StackOpts{Wasm: wasm})
	resp := st.Do(t, st.Req(t, e2etest.ObjectBody, [2]string{"x-e2e-panic", "1"}))
	if e := e2etest.DecodeError(t, resp); resp.Status != 500 || e.Error != "ErrorInternal" {
		t.Errorf("got %d %+v", resp.Status, e)
	}
	if err := st.Host.Worker(0).Failed(); err != nil {
		t.Fatalf("the VM failed: %v", err)
	}
	if got := st.Host.LogsAt(envoyhost.LevelCritical); len(got) != 1 || !strings.Contains(got[0], "injected panic") {
		t.Errorf("critical logs %q", got)
	}
	if resp := st.Do(t, st.Req(t, e2etest.ObjectBody)); resp.Status != 200 {
		t.Errorf("after the panic: %d %s", resp.Status, resp.Body)
	}
}

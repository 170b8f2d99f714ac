package e2e

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/e2e/wasmbuild"
)

// Every documented error, from the compiled plugin.wasm in the host: status,
// exact error name, how far the transfer got (merchant calls), and never a
// backend write.
func TestEveryErrorFromTheModule(t *testing.T) {
	body := `{"handle":"` + stringHandle + `"}`
	withHeaders := func(h ...[2]string) func(*stack, *testing.T) *envoyhost.Request {
		return func(st *stack, t *testing.T) *envoyhost.Request {
			r := st.req(t, body)
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
		opts          stackOpts
		req           func(*stack, *testing.T) *envoyhost.Request
		setup         func(*stack)
		status        int
		errName       string
		description   string // substring
		merchantCalls int
	}{
		{name: "GET is 405", status: 405, errName: "ErrorMethodNotAllowed",
			req: func(st *stack, t *testing.T) *envoyhost.Request { r := st.req(t, ""); r.Method = "GET"; return r }},
		{name: "no token is 401", status: 401, errName: "MissingAuthHeader", description: "missing", req: withHeaders(jsonCT)},
		{name: "repeated token is 401", status: 401, errName: "MissingAuthHeader", description: "repeated",
			req: func(st *stack, t *testing.T) *envoyhost.Request {
				return st.req(t, body, [2]string{"x-firmly-authorization", validToken(t)})
			}},
		{name: "expired token is 401", status: 401, errName: "MissingAuthHeader", description: "token expired",
			req: func(st *stack, t *testing.T) *envoyhost.Request {
				c := deviceClaims()
				c["exp"] = time.Now().Add(-time.Hour).Unix()
				return withHeaders(jsonCT, [2]string{"x-firmly-authorization", token(t, "ES256", "ec-1", c)})(st, t)
			}},
		{name: "alg none is 401", status: 401, errName: "MissingAuthHeader", description: `algorithm "none"`,
			req: withHeaders(jsonCT, [2]string{"x-firmly-authorization", "eyJhbGciOiJub25lIn0.eyJkZXZpY2VfaWQiOiJ4In0."})},
		{name: "invalid domain is 400", status: 400, errName: "ErrorInvalidInputBody", description: "domain:",
			req: func(st *stack, t *testing.T) *envoyhost.Request {
				r := st.req(t, body)
				r.Path = "/api/v2/domains/bad_domain/session/transfer"
				return r
			}},
		{name: "unknown merchant is 422", status: 422, errName: "ErrorCannotTransferSession", description: "not enabled",
			req: func(st *stack, t *testing.T) *envoyhost.Request {
				r := st.req(t, body)
				r.Path = "/api/v2/domains/other.shop/session/transfer"
				return r
			}},
		{name: "text content type is 400", status: 400, errName: "ErrorInvalidInputBody", description: "content-type",
			req: func(st *stack, t *testing.T) *envoyhost.Request {
				return withHeaders([2]string{"content-type", "text/plain"}, [2]string{"x-firmly-authorization", validToken(t)})(st, t)
			}},
		{name: "body over the limit is 413", status: 413, errName: "ErrorPayloadTooLarge",
			req: func(st *stack, t *testing.T) *envoyhost.Request {
				r := st.req(t, `{"handle":"`+strings.Repeat("a", 70000)+`"}`)
				r.ChunkSize = 8192
				return r
			}},
		{name: "short handle is 400", status: 400, errName: "ErrorInvalidInputBody", description: "handle: must be at least 36 characters",
			req: func(st *stack, t *testing.T) *envoyhost.Request { return st.req(t, `{"handle":"short"}`) }},
		{name: "expired merchant session is 422", status: 422, errName: "ErrorCannotTransferSession", merchantCalls: 1,
			setup: func(st *stack) { st.merchant.answer(410, `{}`) }},
		{name: "merchant 500 is 503", status: 503, errName: "ErrorStoreUnavailable", merchantCalls: 1,
			setup: func(st *stack) { st.merchant.answer(500, `oops`) }},
		{name: "merchant timeout is 503", status: 503, errName: "ErrorStoreUnavailable", merchantCalls: 1,
			opts: stackOpts{merchantTimeoutMs: 100}, setup: func(st *stack) { st.merchant.set(slow) }},
		{name: "merchant reset before headers is 503", status: 503, errName: "ErrorStoreUnavailable", merchantCalls: 1,
			setup: func(st *stack) { st.merchant.set(resetConn) }},
		{name: "merchant reset mid-body is 503", status: 503, errName: "ErrorStoreUnavailable", merchantCalls: 1,
			setup: func(st *stack) { st.merchant.set(resetMidBody) }},
		{name: "merchant dispatch failing inline is 503", status: 503, errName: "ErrorStoreUnavailable",
			opts: stackOpts{hostConfig: failInline("merchant_luma")}},
		{name: "merchant 204 is 502", status: 502, errName: "ErrorInvalidMerchantResponse", merchantCalls: 1,
			setup: func(st *stack) { st.merchant.answer(204, ``) }},
		{name: "merchant bad JSON is 502", status: 502, errName: "ErrorInvalidMerchantResponse", merchantCalls: 1,
			setup: func(st *stack) { st.merchant.answer(200, `{"cart":`) }},
		{name: "merchant unknown currency is 502", status: 502, errName: "ErrorInvalidMerchantResponse", description: "currency", merchantCalls: 1,
			setup: func(st *stack) { st.merchant.answer(200, strings.Replace(lumaCart, `"USD"`, `"XYZ"`, 1)) }},
		{name: "merchant answer over 1 MiB is 502", status: 502, errName: "ErrorInvalidMerchantResponse", description: "larger than", merchantCalls: 1,
			setup: func(st *stack) {
				st.merchant.answer(200, strings.Replace(lumaCart, `"coupons":[`, `"coupons":["`+strings.Repeat("x", 1<<20)+`",`, 1))
			}},
		{name: "empty cart is 422", status: 422, errName: "ErrorNoLineItem", merchantCalls: 1,
			setup: func(st *stack) { st.merchant.answer(200, `{"cart":{"currency":"USD","line_items":[]}}`) }},
		{name: "short stock is 422 naming the SKU", status: 422, errName: "ErrorNotEnoughStock", description: "MH07-XS-Gray (wanted 2, available 1)", merchantCalls: 1,
			setup: func(st *stack) {
				st.merchant.answer(200, strings.Replace(lumaCart, `"available_quantity":10`, `"available_quantity":1`, 1))
			}},
		{name: "backend 500 is 503", status: 503, errName: "ErrorSessionStoreUnavailable", merchantCalls: 1,
			setup: func(st *stack) { st.backend.answer(500, `no`) }},
		{name: "backend timeout is 503", status: 503, errName: "ErrorSessionStoreUnavailable", merchantCalls: 1,
			opts: stackOpts{backendTimeoutMs: 100}, setup: func(st *stack) { st.backend.set(slow) }},
		{name: "backend reset is 503", status: 503, errName: "ErrorSessionStoreUnavailable", merchantCalls: 1,
			setup: func(st *stack) { st.backend.set(resetConn) }},
		{name: "backend dispatch failing inline is 503", status: 503, errName: "ErrorSessionStoreUnavailable", merchantCalls: 1,
			opts: stackOpts{hostConfig: failInline("session_backend")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := newStack(t, c.opts)
			if c.setup != nil {
				c.setup(st)
			}
			r := st.req(t, body)
			if c.req != nil {
				r = c.req(st, t)
			}
			resp := st.do(t, r)
			e := decodeError(t, resp)
			if resp.Status != c.status || e.Error != c.errName || !strings.Contains(e.Description, c.description) {
				t.Errorf("got %d %s %q, want %d %s containing %q", resp.Status, e.Error, e.Description, c.status, c.errName, c.description)
			}
			if got := len(st.merchant.received()); got != c.merchantCalls {
				t.Errorf("merchant got %d calls, want %d", got, c.merchantCalls)
			}
			wrote := 0
			for _, b := range st.backend.received() {
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
			for _, secret := range []string{testSecret, testHS256, stringHandle} {
				if strings.Contains(string(resp.Body), secret) || strings.Contains(st.host.LogText(), secret) {
					t.Errorf("a secret or the handle leaked into the answer or the logs")
				}
			}
		})
	}
}

func TestCORSPreflightPassesThrough(t *testing.T) {
	st := newStack(t, stackOpts{})
	resp := st.do(t, &envoyhost.Request{Method: "OPTIONS", Path: transferPath})
	if resp.Status != 200 || string(resp.Body) != "app" || resp.Local {
		t.Errorf("got %d %q, want the app's answer", resp.Status, resp.Body)
	}
}

// A panic inside the module is recovered: 500 ErrorInternal, and the VM
// lives on, even on Envoy 1.33 where an unrecovered panic dies on the way.
func TestRecoveredPanicInTheModule(t *testing.T) {
	wasm := wasmbuild.ForTest(t, wasmbuild.PluginPackage, "e2e_panic")
	st := newStack(t, stackOpts{wasm: wasm})
	resp := st.do(t, st.req(t, objectBody, [2]string{"x-e2e-panic", "1"}))
	if e := decodeError(t, resp); resp.Status != 500 || e.Error != "ErrorInternal" {
		t.Errorf("got %d %+v", resp.Status, e)
	}
	if err := st.host.Worker(0).Failed(); err != nil {
		t.Fatalf("the VM failed: %v", err)
	}
	if got := st.host.LogsAt(envoyhost.LevelCritical); len(got) != 1 || !strings.Contains(got[0], "injected panic") {
		t.Errorf("critical logs %q", got)
	}
	if resp := st.do(t, st.req(t, objectBody)); resp.Status != 200 {
		t.Errorf("after the panic: %d %s", resp.Status, resp.Body)
	}
}

// failInline makes dispatches to a cluster fail inline, with no callback.
func failInline(cluster string) func(*envoyhost.Config) {
	return func(c *envoyhost.Config) {
		cl := c.Clusters[cluster]
		cl.FailInline = true
		c.Clusters[cluster] = cl
	}
}

package observetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/e2e/wasmbuild"
	"github.com/firmly/session-transfer-filter/internal/metrics"
)

// What an operator sees of each answer (SPEC §2.9), against plugin.wasm:
// response-code details, filter state, the request counter, the duration
// histogram and the level of the one log line.

const answerLinePrefix = "session-transfer: request_id="

// answerLines returns the plugin's answer lines by level.
func answerLines(h *envoyhost.Host) map[envoyhost.LogLevel][]string {
	out := map[envoyhost.LogLevel][]string{}
	for _, e := range h.Logs() {
		if strings.HasPrefix(e.Message, answerLinePrefix) {
			out[e.Level] = append(out[e.Level], e.Message)
		}
	}
	return out
}

func TestEveryOutcomeIsObservable(t *testing.T) {
	const none = metrics.NoMerchant
	slowMerchant := func(st *e2etest.Stack) {
		st.Merchant.Set(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	}
	for _, c := range []struct {
		name           string
		opts           e2etest.StackOpts
		setup          func(*e2etest.Stack)
		req            func(*e2etest.Stack) *envoyhost.Request
		status         int
		outcome        string
		merchant       string
		merchantStatus string // "" means absent
		level          envoyhost.LogLevel
	}{
		{name: "a transfer is info with the merchant's 200", status: 200, outcome: "transferred", merchant: e2etest.TestDomain, merchantStatus: "200", level: envoyhost.LevelInfo},
		{name: "a wrong method is debug and names no merchant", status: 405, outcome: "ErrorMethodNotAllowed", merchant: none, level: envoyhost.LevelDebug,
			req: func(st *e2etest.Stack) *envoyhost.Request {
				r := st.Req(t, e2etest.ObjectBody)
				r.Method = "GET"
				return r
			}},
		{name: "a missing token is debug and names no merchant", status: 401, outcome: "MissingAuthHeader", merchant: none, level: envoyhost.LevelDebug,
			req: func(st *e2etest.Stack) *envoyhost.Request {
				r := st.Req(t, e2etest.ObjectBody)
				r.Headers = envoyhost.Pairs{r.Headers[0], r.Headers[2]} // no x-firmly-authorization
				return r
			}},
		{name: "an invalid domain is debug and names no merchant", status: 400, outcome: "ErrorInvalidInputBody", merchant: none, level: envoyhost.LevelDebug,
			req: func(st *e2etest.Stack) *envoyhost.Request {
				r := st.Req(t, e2etest.ObjectBody)
				r.Path = "/api/v2/domains/bad_domain/session/transfer"
				return r
			}},
		{name: "an unconfigured merchant is debug and not named", status: 422, outcome: "ErrorCannotTransferSession", merchant: none, level: envoyhost.LevelDebug,
			req: func(st *e2etest.Stack) *envoyhost.Request {
				r := st.Req(t, e2etest.ObjectBody)
				r.Path = "/api/v2/domains/unknown.example/session/transfer"
				return r
			}},
		{name: "a wrong content type is debug and names the merchant", status: 400, outcome: "ErrorInvalidInputBody", merchant: e2etest.TestDomain, level: envoyhost.LevelDebug,
			req: func(st *e2etest.Stack) *envoyhost.Request {
				r := st.Req(t, e2etest.ObjectBody)
				r.Headers[0] = [2]string{"content-type", "text/plain"}
				return r
			}},
		{name: "a body over the limit is debug", status: 413, outcome: "ErrorPayloadTooLarge", merchant: e2etest.TestDomain, level: envoyhost.LevelDebug,
			req: func(st *e2etest.Stack) *envoyhost.Request {
				return st.Req(t, `{"handle":"`+strings.Repeat("a", 70000)+`"}`)
			}},
		{name: "an invalid body is debug", status: 400, outcome: "ErrorInvalidInputBody", merchant: e2etest.TestDomain, level: envoyhost.LevelDebug,
			req: func(st *e2etest.Stack) *envoyhost.Request { return st.Req(t, `{}`) }},
		{name: "the merchant refusing the session is info", status: 422, outcome: "ErrorCannotTransferSession", merchant: e2etest.TestDomain, merchantStatus: "404", level: envoyhost.LevelInfo,
			setup: func(st *e2etest.Stack) { st.Merchant.Answer(404, `{}`) }},
		{name: "an empty cart is info", status: 422, outcome: "ErrorNoLineItem", merchant: e2etest.TestDomain, merchantStatus: "200", level: envoyhost.LevelInfo,
			setup: func(st *e2etest.Stack) { st.Merchant.Answer(200, `{"cart":{"currency":"USD","line_items":[]}}`) }},
		{name: "short stock is info", status: 422, outcome: "ErrorNotEnoughStock", merchant: e2etest.TestDomain, merchantStatus: "200", level: envoyhost.LevelInfo,
			setup: func(st *e2etest.Stack) {
				st.Merchant.Answer(200, strings.Replace(e2etest.LumaCart, `"available_quantity":10`, `"available_quantity":1`, 1))
			}},
		{name: "an invalid cart is warn", status: 502, outcome: "ErrorInvalidMerchantResponse", merchant: e2etest.TestDomain, merchantStatus: "200", level: envoyhost.LevelWarn,
			setup: func(st *e2etest.Stack) { st.Merchant.Answer(200, `{}`) }},
		{name: "a merchant 500 is warn", status: 503, outcome: "ErrorStoreUnavailable", merchant: e2etest.TestDomain, merchantStatus: "500", level: envoyhost.LevelWarn,
			setup: func(st *e2etest.Stack) { st.Merchant.Answer(500, `oops`) }},
		{name: "a merchant timeout is recorded as 504", status: 503, outcome: "ErrorStoreUnavailable", merchant: e2etest.TestDomain, merchantStatus: "504", level: envoyhost.LevelWarn,
			opts: e2etest.StackOpts{MerchantTimeoutMs: 50}, setup: slowMerchant},
		{name: "a merchant reset is recorded as 0", status: 503, outcome: "ErrorStoreUnavailable", merchant: e2etest.TestDomain, merchantStatus: "0", level: envoyhost.LevelWarn,
			setup: func(st *e2etest.Stack) {
				// Headers, then the connection dies mid-body: Envoy
				// reports it to the filter as zero headers.
				st.Merchant.Set(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("content-length", "1000")
					w.WriteHeader(200)
					w.Write([]byte(`{"cart":`))
					w.(http.Flusher).Flush()
					panic(http.ErrAbortHandler)
				})
			}},
		{name: "an export that cannot be dispatched has no merchant status", status: 503, outcome: "ErrorStoreUnavailable", merchant: e2etest.TestDomain, level: envoyhost.LevelWarn,
			opts: e2etest.StackOpts{HostConfig: e2etest.FailInline("merchant_luma")}},
		{name: "a failed backend write is warn", status: 503, outcome: "ErrorSessionStoreUnavailable", merchant: e2etest.TestDomain, merchantStatus: "200", level: envoyhost.LevelWarn,
			setup: func(st *e2etest.Stack) { st.Backend.Answer(500, `{}`) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := e2etest.NewStack(t, c.opts)
			if c.setup != nil {
				c.setup(st)
			}
			r := st.Req(t, e2etest.ObjectBody)
			if c.req != nil {
				r = c.req(st)
			}
			resp := st.Do(t, r)
			if resp.Status != c.status || !resp.Local {
				t.Fatalf("got %d (local %v) %s, want local %d", resp.Status, resp.Local, resp.Body, c.status)
			}
			if want := "session_transfer." + c.outcome; resp.Details != want {
				t.Errorf("details: got %q, want %q", resp.Details, want)
			}
			fs := resp.FilterState
			if fs["wasm."+metrics.StateOutcome] != c.outcome || fs["wasm."+metrics.StateMerchant] != c.merchant {
				t.Errorf("filter state: got %v, want outcome %s merchant %s", fs, c.outcome, c.merchant)
			}
			if got, ok := fs["wasm."+metrics.StateMerchantStatus]; got != c.merchantStatus || ok != (c.merchantStatus != "") {
				t.Errorf("merchant_status: got %q (present %v), want %q", got, ok, c.merchantStatus)
			}
			if n, _ := st.Host.Metric(metrics.RequestsName(c.outcome, c.merchant)); n != 1 {
				t.Errorf("requests counter for %s/%s: got %d, want 1", c.outcome, c.merchant, n)
			}
			if n := len(st.Host.HistogramSamples(metrics.MerchantName(metrics.DurationMs, c.merchant))); n != 1 {
				t.Errorf("duration_ms samples: got %d, want 1", n)
			}
			lines := answerLines(st.Host)
			total := 0
			for _, l := range lines {
				total += len(l)
			}
			if got := lines[c.level]; total != 1 || len(got) != 1 {
				t.Fatalf("answer lines: got %v, want one at %v\n%s", lines, c.level, st.Host.LogText())
			}
			line := lines[c.level][0]
			for _, want := range []string{"request_id=req-1", "merchant=" + c.merchant, fmt.Sprintf("status=%d", c.status), "outcome=" + c.outcome} {
				if !strings.Contains(line, want) {
					t.Errorf("answer line %q lacks %q", line, want)
				}
			}
			if c.status >= 400 && c.status < 500 && c.merchantStatus == "" && c.level != envoyhost.LevelDebug {
				t.Errorf("a client error was logged at %v", c.level)
			}
		})
	}
}

func TestCalloutHistograms(t *testing.T) {
	t.Run("a transfer records the export, the write and the duration", func(t *testing.T) {
		st := e2etest.NewStack(t, e2etest.StackOpts{})
		if resp := st.Do(t, st.Req(t, e2etest.ObjectBody)); resp.Status != 200 {
			t.Fatalf("got %d %s", resp.Status, resp.Body)
		}
		for _, m := range []string{metrics.MerchantExportMs, metrics.BackendWriteMs, metrics.DurationMs} {
			if n := len(st.Host.HistogramSamples(metrics.MerchantName(m, e2etest.TestDomain))); n != 1 {
				t.Errorf("%s: got %d samples, want 1", m, n)
			}
		}
	})
	t.Run("a timed-out export is recorded too", func(t *testing.T) {
		st := e2etest.NewStack(t, e2etest.StackOpts{MerchantTimeoutMs: 50})
		st.Merchant.Set(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		st.Do(t, st.Req(t, e2etest.ObjectBody))
		if n := len(st.Host.HistogramSamples(metrics.MerchantName(metrics.MerchantExportMs, e2etest.TestDomain))); n != 1 {
			t.Errorf("merchant_export_ms: got %d samples, want 1", n)
		}
		if n := len(st.Host.HistogramSamples(metrics.MerchantName(metrics.BackendWriteMs, e2etest.TestDomain))); n != 0 {
			t.Errorf("backend_write_ms: got %d samples, want none (no write)", n)
		}
	})
}

// Metrics are defined once per VM: after a name's first use, requests make
// no proxy_define_metric call.
func TestMetricsAreDefinedOncePerVM(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	// Two transfers first: the first misses the token cache and the second,
	// with the same token, hits it, so each cache counter has had its use.
	st.Do(t, st.Req(t, e2etest.ObjectBody))
	st.Do(t, st.Req(t, e2etest.ObjectBody))
	after := st.Host.DefineMetricCalls()
	for i := 0; i < 3; i++ {
		if resp := st.Do(t, st.Req(t, e2etest.ObjectBody)); resp.Status != 200 {
			t.Fatalf("got %d", resp.Status)
		}
	}
	if got := st.Host.DefineMetricCalls(); got != after {
		t.Errorf("define calls: got %d after three more transfers, want %d", got, after)
	}
	if n, _ := st.Host.Metric(metrics.RequestsName(metrics.Transferred, e2etest.TestDomain)); n != 5 {
		t.Errorf("requests: got %d, want 5", n)
	}
}

// A merchant answer with thousands of short-stock SKUs still gives a
// bounded description and bounded log lines.
func TestBoundedDescriptionsAndLogLines(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{ExtraConfig: `, "limits": {"max_line_items": 5000}`})
	var b strings.Builder
	b.WriteString(`{"cart":{"currency":"USD","line_items":[`)
	for i := 0; i < 5000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"platform_line_item_id":"%d","sku":"SKU-%d-%s","description":"d","quantity":2,"unit_price":1,"available_quantity":1}`, i, i, strings.Repeat("x", 80))
	}
	b.WriteString(`]}}`)
	st.Merchant.Answer(200, b.String())
	resp := st.Do(t, st.Req(t, e2etest.ObjectBody))
	e := e2etest.DecodeError(t, resp)
	if e.Error != "ErrorNotEnoughStock" {
		t.Fatalf("got %d %s", resp.Status, e.Error)
	}
	if len(e.Description) > 1024 {
		t.Errorf("description: got %d bytes, want at most 1024", len(e.Description))
	}
	if !strings.Contains(e.Description, "and 4990 more") {
		t.Errorf("description %q does not count the SKUs left out", e.Description)
	}
	for _, l := range st.Host.Logs() {
		if len(l.Message) > 2048 {
			t.Errorf("log line of %d bytes, want at most 2048: %.80s...", len(l.Message), l.Message)
		}
	}
}

// The host from envoy.yaml: a request outside the transfer routes never
// enters the VM, a transfer does, and the access log and the admin's
// /stats/prometheus show what the filter decided.
func TestLocalStackScopesTheFilterAndReportsIt(t *testing.T) {
	st := e2etest.StartLocal(t)
	before := len(st.Host.Calls())
	resp, err := st.Client.Get(st.ProxyURL + "/api/v2/products?x=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "stand-in") {
		t.Fatalf("pass-through: got %d %s", resp.StatusCode, body)
	}
	if calls := st.Host.Calls()[before:]; len(calls) != 0 {
		t.Errorf("a pass-through request entered the VM: %v", calls)
	}
	if r := e2etest.LocalTransfer(t, st, `{"handle":"`+e2etest.DemoHandle+`"}`); r.Status != 200 {
		t.Fatalf("transfer: got %d %s", r.Status, r.Body)
	}
	if len(st.Host.Calls()) == before {
		t.Error("a transfer did not enter the VM")
	}
	logs := st.Host.AccessLogs()
	if len(logs) != 2 {
		t.Fatalf("access log: got %d lines, want 2: %q", len(logs), logs)
	}
	for _, want := range []string{`"outcome":null`, `"merchant":null`, `"response_code":200`, `"response_code_details":"via_upstream"`} {
		if !strings.Contains(logs[0], want) {
			t.Errorf("pass-through access log %s lacks %s", logs[0], want)
		}
	}
	for _, want := range []string{`"outcome":"transferred"`, `"merchant":"staging.luma.gift"`, `"merchant_status":"200"`,
		`"response_code":200`, `"response_code_details":"session_transfer.transferred"`, `"method":"POST"`} {
		if !strings.Contains(logs[1], want) {
			t.Errorf("transfer access log %s lacks %s", logs[1], want)
		}
	}
	get := func(path string) string {
		resp, err := http.Get(st.AdminURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: got %d", path, resp.StatusCode)
		}
		return string(b)
	}
	if got := get("/ready"); got != "LIVE\n" {
		t.Errorf("/ready: got %q", got)
	}
	prom := get("/stats/prometheus")
	for _, want := range []string{
		"# TYPE session_transfer_requests counter\n",
		`session_transfer_requests{merchant="staging.luma.gift",outcome="transferred"} 1` + "\n",
		"# TYPE session_transfer_duration_ms histogram\n",
		`session_transfer_merchant_export_ms_count{merchant="staging.luma.gift"} 1` + "\n",
		`session_transfer_backend_write_ms_bucket{merchant="staging.luma.gift",le="+Inf"} 1` + "\n",
	} {
		if !strings.Contains(prom, want) {
			t.Errorf("/stats/prometheus lacks %q:\n%s", want, prom)
		}
	}
	if stats := get("/stats"); !strings.Contains(stats, "wasmcustom.session_transfer_outcome=.=transferred;.;session_transfer_merchant=.=staging.luma.gift;.;session_transfer.requests: 1\n") {
		t.Errorf("/stats lacks the tagged counter:\n%s", stats)
	}
}

// Envoy's access log formats: a missing value is "-" in text and null in
// JSON; a lone operator keeps its type.
func TestHostAccessLogFormats(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{HostConfig: func(c *envoyhost.Config) {
		c.AccessLog = &envoyhost.AccessLog{Text: `%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS% outcome=%FILTER_STATE(wasm.session_transfer.outcome:PLAIN)% id=%REQ(X-REQUEST-ID)% status=%FILTER_STATE(wasm.session_transfer.merchant_status:PLAIN)%`}
	}})
	r := st.Req(t, e2etest.ObjectBody)
	r.Method = "PUT"
	st.Do(t, r)
	st.Do(t, &envoyhost.Request{Path: "/elsewhere"})
	logs := st.Host.AccessLogs()
	want := []string{
		"PUT " + e2etest.TransferPath + " 405 session_transfer.ErrorMethodNotAllowed outcome=ErrorMethodNotAllowed id=req-1 status=-",
		"GET /elsewhere 200 via_upstream outcome=- id=- status=-",
	}
	if len(logs) != 2 || logs[0] != want[0] || logs[1] != want[1] {
		t.Errorf("got %q, want %q", logs, want)
	}
	if _, err := envoyhost.New(context.Background(), nil, envoyhost.Config{AccessLog: &envoyhost.AccessLog{Text: "%UPSTREAM_HOST%"}}); err == nil {
		t.Error("an access log with an operator the host does not emulate was accepted")
	}
}

// A recovered panic is reported like any other answer.
func TestRecoveredPanicIsObservable(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{Wasm: wasmbuild.ForTest(t, wasmbuild.PluginPackage, "e2e_panic")})
	resp := st.Do(t, st.Req(t, e2etest.ObjectBody, [2]string{"x-e2e-panic", "1"}))
	if resp.Status != 500 || resp.Details != "session_transfer.ErrorInternal" {
		t.Errorf("got %d details %q, want 500 session_transfer.ErrorInternal", resp.Status, resp.Details)
	}
	if got := resp.FilterState["wasm."+metrics.StateOutcome]; got != "ErrorInternal" {
		t.Errorf("outcome: got %q, want ErrorInternal", got)
	}
	if lines := answerLines(st.Host)[envoyhost.LevelWarn]; len(lines) != 1 {
		t.Errorf("warn answer lines: got %q, want one", lines)
	}
}

// The verified-token cache is counted per lookup: the first use of a token
// is a miss, a repeat a hit; a request refused before the lookup (no token)
// counts neither.
func TestTokenCacheCounters(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	tok := e2etest.ValidToken(t)
	withToken := func() *envoyhost.Request {
		r := st.Req(t, e2etest.ObjectBody)
		r.Headers[1] = [2]string{"x-firmly-authorization", tok}
		return r
	}
	e2etest.CartOf(t, st.Do(t, withToken()))
	e2etest.CartOf(t, st.Do(t, withToken()))
	e2etest.CartOf(t, st.Do(t, withToken()))
	st.Do(t, &envoyhost.Request{Method: "POST", Path: e2etest.TransferPath, Headers: envoyhost.Pairs{{"content-type", "application/json"}}})
	hits, _ := st.Host.Metric("session_transfer.token_cache_hits")
	misses, _ := st.Host.Metric("session_transfer.token_cache_misses")
	if hits != 2 || misses != 1 {
		t.Errorf("token_cache_hits %d, token_cache_misses %d; want 2 and 1", hits, misses)
	}
}

// auth.token_cache_entries 0 disables the cache: a repeated token is
// verified in full every time, and neither counter moves from 0.
func TestTokenCacheCanBeDisabled(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{HostConfig: func(c *envoyhost.Config) {
		c.PluginConfig = []byte(strings.Replace(string(c.PluginConfig), `"allowed_app_ids"`, `"token_cache_entries": 0, "allowed_app_ids"`, 1))
	}})
	tok := e2etest.ValidToken(t)
	for i := 0; i < 3; i++ {
		r := st.Req(t, e2etest.ObjectBody)
		r.Headers[1] = [2]string{"x-firmly-authorization", tok}
		e2etest.CartOf(t, st.Do(t, r))
	}
	// Both exist from the start (SPEC §2.9) and stay at 0.
	hits, hok := st.Host.Metric("session_transfer.token_cache_hits")
	misses, mok := st.Host.Metric("session_transfer.token_cache_misses")
	if !hok || !mok || hits != 0 || misses != 0 {
		t.Errorf("token-cache counters hits %d (defined %v), misses %d (defined %v) with the cache disabled; want both defined at 0", hits, hok, misses, mok)
	}
}

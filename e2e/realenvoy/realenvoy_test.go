package realenvoy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/faults"
	"github.com/firmly/session-transfer-filter/e2e/refissuer"
)

// scenario is one behaviour checked through a target; it returns what it
// observed, which must be the same in the host and the real Envoy it emulates.
type scenario struct {
	name string
	run  func(t *testing.T, tg *target) string
}

// TestRealEnvoy runs the scenarios through every pinned real Envoy (started
// from the shipped envoy.yaml, only addresses, ports and file paths changed)
// and through the project's host emulating each one's era, all legs in
// parallel, then compares what they observed (the fidelity table).
func TestRealEnvoy(t *testing.T) {
	t.Parallel() // each of these tests mostly waits on Envoy; they overlap
	wasm := pluginWasm(t)
	var obs observations
	t.Run("legs", func(t *testing.T) {
		for _, v := range Versions() {
			t.Run("envoy-"+v, func(t *testing.T) {
				t.Parallel()
				runScenarios(t, envoyTarget(t, v, wasm), &obs)
			})
			t.Run(hostName(v), func(t *testing.T) {
				t.Parallel()
				tg, _ := hostTarget(t, v, wasm, "")
				runScenarios(t, tg, &obs)
			})
		}
	})
	obs.table(t)
}

func runScenarios(t *testing.T, tg *target, obs *observations) {
	for _, sc := range scenarios {
		ok := t.Run(sc.name, func(t *testing.T) {
			obs.add(sc.name, tg.name, sc.run(t, tg))
		})
		if !ok && sc.name == "transfer" {
			return // nothing else can pass
		}
	}
}

// errorCase is a request (and optional fault) that must end in an error.
type errorCase struct {
	name   string
	method string
	body   string
	token  bool
	fault  func(tg *target)
	status int
	error  string
}

var errorCases = []errorCase{
	{name: "401 no token", method: "POST", body: demoBody, status: 401, error: "MissingAuthHeader"},
	{name: "400 short handle token", method: "POST", body: `{"handle":{"handle":"cart-12345","token":"short"}}`, token: true, status: 400, error: "ErrorInvalidInputBody"},
	{name: "405 GET", method: "GET", token: true, status: 405, error: "ErrorMethodNotAllowed"},
	{name: "413 body over limits.max_body_bytes", method: "POST", body: `{"handle":"` + strings.Repeat("x", 70000) + `"}`, token: true, status: 413, error: "ErrorPayloadTooLarge"},
	{name: "422 merchant says 404", method: "POST", body: `{"handle":"no-such-session-0000000000000000000000"}`, token: true, status: 422, error: "ErrorCannotTransferSession"},
	{name: "502 malformed cart", method: "POST", body: demoBody, token: true, status: 502, error: "ErrorInvalidMerchantResponse",
		fault: func(tg *target) {
			tg.services.Merchant.Faults.Add(faults.Fault{Match: demoHandle, Malformed: true, Times: 1})
		}},
	{name: "503 merchant answers 500", method: "POST", body: demoBody, token: true, status: 503, error: "ErrorStoreUnavailable",
		fault: func(tg *target) {
			tg.services.Merchant.Faults.Add(faults.Fault{Match: demoHandle, Status: 500, Times: 1})
		}},
	// How a callout reset arrives: the access log's merchant_status says.
	{name: "503 merchant resets the connection", method: "POST", body: demoBody, token: true, status: 503, error: "ErrorStoreUnavailable",
		fault: func(tg *target) {
			tg.services.Merchant.Faults.Add(faults.Fault{Match: demoHandle, Reset: true, Times: 1})
		}},
	// envoy.yaml's merchant timeout_ms is 2000: Envoy answers the callout 504.
	{name: "503 merchant times out", method: "POST", body: demoBody, token: true, status: 503, error: "ErrorStoreUnavailable",
		fault: func(tg *target) {
			tg.services.Merchant.Faults.Add(faults.Fault{Match: demoHandle, LatencyMs: 2500, Times: 1})
		}},
	{name: "503 session store answers 503", method: "POST", body: demoBody, token: true, status: 503, error: "ErrorSessionStoreUnavailable",
		fault: func(tg *target) { tg.services.Backend.Faults.Add(faults.Fault{Status: 503, Times: 1}) }},
}

var scenarios = []scenario{
	{"transfer", func(t *testing.T, tg *target) string {
		contexts := tg.streamContexts(t)
		x := tg.transfer(t, devToken(t), demoBody)
		if x.status != 200 {
			t.Fatalf("%s: transfer answered %d: %s", tg.name, x.status, x.body)
		}
		cart := x.json(t)
		total, _ := cart["total"].(map[string]any)
		if cart["cart_id"] != demoCartID || fmt.Sprint(total["number"]) != "14864" || cart["schema_version"] != "2.0" {
			t.Errorf("%s: cart %v, want the README's (cart id %s, total 14864)", tg.name, cart, demoCartID)
		}
		if tg.services.Backend.Count() != 1 {
			t.Errorf("%s: the session store holds %d sessions after the first transfer, want 1", tg.name, tg.services.Backend.Count())
		}
		created := tg.streamContexts(t) - contexts
		if created != 1 {
			t.Errorf("%s: %d stream contexts for one transfer, want 1", tg.name, created)
		}
		return fmt.Sprintf("%d cart=%s %s contexts+%d", x.status, cart["cart_id"], logSummary(x), created)
	}},
	{"pass-through and route scope", func(t *testing.T, tg *target) string {
		contexts := tg.streamContexts(t)
		x := tg.do(t, "GET", "/api/v2/carts/active", "", nil)
		if x.status != 200 || !strings.Contains(string(x.body), `"upstream":"firmly-api stand-in"`) {
			t.Errorf("%s: pass-through answered %d %s", tg.name, x.status, x.body)
		}
		// A transfer path's neighbour takes the catch-all route too.
		y := tg.do(t, "POST", "/api/v2/domains/staging.luma.gift/session/other", "{}", map[string]string{"content-type": "application/json"})
		if y.status != 200 {
			t.Errorf("%s: neighbour path answered %d %s", tg.name, y.status, y.body)
		}
		created := tg.streamContexts(t) - contexts
		if created != 0 {
			t.Errorf("%s: %d stream contexts created off the transfer routes, want 0 (route-scoped filter)", tg.name, created)
		}
		return fmt.Sprintf("%d %d %s contexts+%d", x.status, y.status, logSummary(x), created)
	}},
	{"errors", func(t *testing.T, tg *target) string {
		var out []string
		for _, c := range errorCases {
			if c.fault != nil {
				c.fault(tg)
			}
			token := ""
			if c.token {
				token = devToken(t)
			}
			h := map[string]string{"content-type": "application/json"}
			if token != "" {
				h["x-firmly-authorization"] = token
			}
			x := tg.do(t, c.method, transferPath, c.body, h)
			got := ""
			if x.status == c.status {
				got = x.errorName(t)
			}
			if x.status != c.status || got != c.error {
				t.Errorf("%s: %s: %d %.300s, want %d %s", tg.name, c.name, x.status, x.body, c.status, c.error)
			}
			if c.status == 405 && x.header.Get("allow") != "POST" {
				t.Errorf("%s: 405 without allow: POST (%v)", tg.name, x.header)
			}
			if x.logField("outcome") != c.error {
				t.Errorf("%s: %s: access log outcome %q, want %q", tg.name, c.name, x.logField("outcome"), c.error)
			}
			out = append(out, fmt.Sprintf("[%s: %d %s %s]", c.name, x.status, got, logSummary(x)))
			tg.services.Merchant.Faults.Clear()
			tg.services.Backend.Faults.Clear()
		}
		return strings.Join(out, " ")
	}},
	{"access-log line", func(t *testing.T, tg *target) string {
		x := tg.transfer(t, devToken(t), demoBody)
		var keys []string
		for k := range x.log {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		want := map[string]string{"method": "POST", "path": transferPath, "response_code": "200",
			"response_code_details": "session_transfer.transferred", "outcome": "transferred",
			"merchant": "staging.luma.gift", "merchant_status": "200"}
		for k, v := range want {
			if x.logField(k) != v {
				t.Errorf("%s: access log %s=%q, want %q (line %v)", tg.name, k, x.logField(k), v, x.log)
			}
		}
		if x.logField("request_id") == "" || x.logField("start_time") == "" {
			t.Errorf("%s: access log without request_id or start_time: %v", tg.name, x.log)
		}
		return strings.Join(keys, ",")
	}},
	{"tagged metrics on /stats/prometheus", func(t *testing.T, tg *target) string {
		// Envoy merges histograms on its stats flush (every 5 s by
		// default), so their counts show once one has passed.
		var prom string
		deadline := time.Now().Add(20 * time.Second)
		for {
			prom = tg.admin(t, "/stats/prometheus")
			if v, _ := promValue(prom, `session_transfer_duration_ms_count{merchant="staging.luma.gift"}`); v != "" && v != "0" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no duration_ms samples on /stats/prometheus:\n%s", tg.name, grepLines(prom, "session_transfer"))
			}
			time.Sleep(200 * time.Millisecond)
		}
		for series, want := range map[string]string{
			`session_transfer_requests{merchant="staging.luma.gift",outcome="transferred"}`:           "2",
			`session_transfer_requests{merchant="none",outcome="MissingAuthHeader"}`:                  "1",
			`session_transfer_requests{merchant="staging.luma.gift",outcome="ErrorInvalidInputBody"}`: "1",
			`session_transfer_requests{merchant="staging.luma.gift",outcome="ErrorStoreUnavailable"}`: "3",
		} {
			if got, _ := promValue(prom, series); got != want {
				t.Errorf("%s: %s = %q, want %s", tg.name, series, got, want)
			}
		}
		// What the fidelity table compares: the TYPE lines, every series'
		// name and labels, and the requests series' values, which the
		// identical scenario order fixes. The token cache's series depend
		// on which worker took which request, so they are left out.
		var seen []string
		for _, l := range strings.Split(prom, "\n") {
			switch {
			case strings.Contains(l, "token_cache"):
			case strings.HasPrefix(l, "# TYPE session_transfer"):
				seen = append(seen, l)
			case strings.HasPrefix(l, "session_transfer_requests"):
				if !strings.HasSuffix(l, " 0") {
					seen = append(seen, l)
				}
			case strings.HasPrefix(l, "session_transfer_"):
				if i := strings.LastIndexByte(l, ' '); i > 0 {
					seen = append(seen, l[:i])
				}
			}
		}
		sort.Strings(seen)
		return strings.Join(seen, " | ")
	}},
	// The shipped edge hardening (edge_test.go).
	edgeScenarios[0],
	edgeScenarios[1],
	// Last: it rotates the issuer's key, which every later token would need.
	{"remote JWKS rotation", func(t *testing.T, tg *target) string {
		old := devToken(t)
		if x := tg.transfer(t, old, demoBody); x.status != 200 {
			t.Fatalf("%s: old token before the rotation: %d %s", tg.name, x.status, x.body)
		}
		resp, err := tg.services.Client.Post(tg.services.IssuerURL+"/_admin/rotate", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		var rotated struct{ Kid string }
		json.NewDecoder(resp.Body).Decode(&rotated)
		resp.Body.Close()
		var tr refissuer.TokenResponse
		resp, err = tg.services.Client.Post(tg.services.IssuerURL+"/_admin/tokens", "application/json",
			strings.NewReader(`{"device_id":"dev-device-2","app_id":"local-dev","ttl_seconds":3600}`))
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&tr)
		resp.Body.Close()
		if tr.Kid != rotated.Kid || tr.Token == "" {
			t.Fatalf("%s: issuer minted %+v after rotating to %q", tg.name, tr, rotated.Kid)
		}
		// A token of the new key makes the worker that gets it refetch at
		// once (min_refetch_seconds), without a restart. Bounded poll, one
		// request a second.
		deadline := time.Now().Add(75 * time.Second)
		newOK := 0
		for newOK < 4 { // several answers, so both workers are seen to have it
			x := tg.transfer(t, tr.Token, demoBody)
			switch {
			case x.status == 200:
				newOK++
				continue
			case x.status != 401:
				t.Fatalf("%s: new token: %d %s", tg.name, x.status, x.body)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the new key was not loaded within 75 s: %d %s", tg.name, x.status, x.body)
			}
			newOK = 0
			time.Sleep(time.Second)
		}
		// The old token is not checked here: a worker that has not yet seen a
		// token of the new key keeps the old set until its next refresh
		// (300 s), and which worker a connection lands on is the kernel's
		// choice. The refusal after a refresh is pinned on a test clock
		// (e2e/authtest TestLocalStackKeyRotation).
		return "new 200"
	}},
}

// logSummary is the access-log fields the filter decides.
func logSummary(x exchange) string {
	return fmt.Sprintf("details=%s outcome=%s merchant=%s merchant_status=%s", x.logField("response_code_details"),
		x.logField("outcome"), x.logField("merchant"), x.logField("merchant_status"))
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

package realenvoy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/faults"
)

// A full circuit breaker on the merchant cluster (issue 17), in a VARIANT of
// the shipped envoy.yaml: merchant_luma's thresholds cut to one connection,
// one pending request and one request, and the merchant's timeout_ms raised
// to 20 s so a held export outlasts the test's steps. Nothing else changes.
// With one export held and one pending, a third transfer's callout
// overflows: the filter answers 503 ErrorStoreUnavailable while the held
// one is still in flight, with no merchant_status (no answer came).

// tinyMerchantBreaker is the variant.
func tinyMerchantBreaker(d Doc) error {
	sr, _ := d["static_resources"].(map[string]any)
	found := false
	for _, c := range list(sr["clusters"]) {
		cm, _ := c.(map[string]any)
		if cm["name"] != "merchant_luma" {
			continue
		}
		found = true
		one := json.Number("1")
		cm["circuit_breakers"] = map[string]any{"thresholds": []any{map[string]any{"priority": "DEFAULT",
			"max_connections": one, "max_pending_requests": one, "max_requests": one, "max_retries": json.Number("0")}}}
	}
	if !found {
		return fmt.Errorf("realenvoy: no merchant_luma cluster")
	}
	for _, w := range d.WasmFilters() {
		if err := EditPluginConfig(w, func(pc map[string]any) {
			m := pc["merchants"].(map[string]any)["staging.luma.gift"].(map[string]any)
			m["timeout_ms"] = json.Number("20000")
		}); err != nil {
			return err
		}
	}
	return nil
}

func TestRealEnvoyCircuitBreaker(t *testing.T) {
	t.Parallel() // each of these tests mostly waits on Envoy; they overlap
	root, wasm := repoRoot(t), pluginWasm(t)
	variantYAML, err := shippedVariant(t, root, tinyMerchantBreaker).YAML()
	if err != nil {
		t.Fatal(err)
	}
	variantPath := filepath.Join(t.TempDir(), "envoy-tiny-merchant-breaker.yaml")
	if err := os.WriteFile(variantPath, variantYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	var obs observations
	t.Run("legs", func(t *testing.T) {
		for _, v := range Versions() {
			t.Run("envoy-"+v, func(t *testing.T) {
				t.Parallel()
				// One worker: each worker has its own connection pool, so with
				// two the held, pending and third requests may land in different
				// pools, and which limit refuses which (a pending overflow at
				// once, or a 503 to the callback) depends on that draw (seen
				// with Envoy 1.38.2). The breaker's thresholds are cluster-wide
				// either way; one pool makes the case deterministic.
				st := StartStack(t, Setup{RepoRoot: root, Version: v, Wasm: wasm, Edit: tinyMerchantBreaker, Concurrency: 1})
				tg := &target{name: "envoy-" + v, real: true, version: v, proxyURL: st.ProxyURL, adminURL: st.AdminURL,
					services: st.Services, client: newClient(), accessLog: st.AccessLog}
				load := func() (int, int) {
					return int(st.Counter(t, "cluster.merchant_luma.upstream_rq_active")), int(st.Counter(t, "cluster.merchant_luma.upstream_rq_pending_active"))
				}
				obs.add("full merchant breaker (variant)", tg.name, fullBreaker(t, tg, load))
				if n := st.Counter(t, "cluster.merchant_luma.upstream_rq_pending_overflow"); n != 1 {
					t.Errorf("Envoy counted %d pending overflows on merchant_luma, want 1", n)
				}
			})
			t.Run(hostName(v), func(t *testing.T) {
				t.Parallel()
				tg, st := hostTarget(t, v, wasm, variantPath)
				load := func() (int, int) { return st.Host.ClusterLoad("merchant_luma") }
				obs.add("full merchant breaker (variant)", tg.name, fullBreaker(t, tg, load))
				if got := st.Host.CalloutOverflows(); len(got) != 1 || got[0] != "merchant_luma" {
					t.Errorf("the host's callout overflows: %v, want one on merchant_luma", got)
				}
			})
		}
	})
	obs.table(t)
}

// fullBreaker holds one export at the merchant, queues a second behind it,
// then sends a third; load reports the merchant cluster's active and
// pending requests.
func fullBreaker(t *testing.T, tg *target, load func() (active, pending int)) string {
	tok := devToken(t)
	// The first export is held at the merchant; the ones after it are not.
	tg.services.Merchant.Faults.Add(faults.Fault{Match: demoHandle, LatencyMs: 4000, Times: 1})
	defer tg.services.Merchant.Faults.Clear()
	waitLoad := func(active, pending int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			a, p := load()
			if a == active && p == pending {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: merchant cluster at %d active, %d pending; want %d, %d", tg.name, a, p, active, pending)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The first two requests' access-log lines are read at the end, in
	// order, so they are sent on their own clients and collected after.
	type result struct{ status int }
	held, pending := make(chan result, 1), make(chan result, 1)
	send := func(out chan<- result) {
		x, err := rawPost(tg, tok)
		if err != nil {
			t.Error(err)
		}
		out <- result{x}
	}
	go send(held)
	waitLoad(1, 0)
	go send(pending)
	waitLoad(1, 1)
	x := tg.transfer(t, tok, demoBody)
	stillHeld := len(held) == 0
	what := fmt.Sprintf("third: %d %s details=%s merchant_status=%s; held one still in flight: %v", x.status, x.errorName(t),
		x.logField("response_code_details"), x.logField("merchant_status"), stillHeld)
	if x.status != 503 || x.errorName(t) != "ErrorStoreUnavailable" || x.logField("merchant_status") != "null" || !stillHeld {
		t.Errorf("%s: %s; want 503 ErrorStoreUnavailable at once, no merchant_status", tg.name, what)
	}
	h, p := <-held, <-pending
	what += fmt.Sprintf("; then the held one %d, the pending one %d", h.status, p.status)
	if h.status != 200 || p.status != 200 {
		t.Errorf("%s: %s; want both waiting transfers to succeed", tg.name, what)
	}
	return what
}

// rawPost is a transfer that does not wait for its access-log line (it runs
// beside another request of the same target).
func rawPost(tg *target, tok string) (int, error) {
	req, err := http.NewRequest("POST", tg.proxyURL+transferPath, strings.NewReader(demoBody))
	if err != nil {
		return 0, err
	}
	req.Header.Set("content-type", "application/json")
	req.Header.Set("x-firmly-authorization", tok)
	resp, err := newClient().Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", tg.name, err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

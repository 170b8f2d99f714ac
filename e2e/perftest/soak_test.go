package perftest

import (
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

// A VM's linear memory never shrinks, so a leak shows as growth that does
// not stop. After a warm-up, many more transfers must not grow it further
// than a little GC headroom.
func TestMemoryStaysBoundedOverManyTransfers(t *testing.T) {
	if testing.Short() {
		t.Skip("soak")
	}
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	vm := st.Host.Worker(0)
	run := func(n int) {
		for i := 0; i < n; i++ {
			if resp := st.Do(t, st.Req(t, e2etest.ObjectBody)); resp.Status != 200 {
				t.Fatalf("transfer %d: %d", i, resp.Status)
			}
			if resp := st.Do(t, &envoyhost.Request{Path: "/other"}); resp.Status != 200 {
				t.Fatalf("pass-through %d: %d", i, resp.Status)
			}
		}
	}
	// The warm-up must reach the heap's steady size: a module that
	// allocates less per transfer gets there later (the 100k soak,
	// TestMemorySoakOnDemand, shows it flat from 10k on).
	run(600)
	warm := vm.MemoryPages()
	run(800)
	after := vm.MemoryPages()
	t.Logf("linear memory: %d pages (%.1f MiB) after 600 transfers, %d pages after 1400", warm, float64(warm)/16, after)
	if after > warm+32 { // 2 MiB of headroom
		t.Errorf("memory grew from %d to %d pages over 800 more transfers", warm, after)
	}
}

// Transfers through plugin.wasm in the host, callouts over loopback: the
// whole path a request takes, not only the module's share.
func BenchmarkTransferThroughModule(b *testing.B) {
	st := e2etest.NewStack(b, e2etest.StackOpts{})
	r := st.Req(b, e2etest.ObjectBody)
	b.ReportAllocs()
	for b.Loop() {
		if resp := st.Do(b, r); resp.Status != 200 {
			b.Fatalf("status %d", resp.Status)
		}
	}
}

// A request refused on headers (no token): the module's own cost, no I/O.
func BenchmarkRefusedOnHeaders(b *testing.B) {
	st := e2etest.NewStack(b, e2etest.StackOpts{})
	r := &envoyhost.Request{Method: "POST", Path: e2etest.TransferPath, Headers: envoyhost.Pairs{{"content-type", "application/json"}}}
	for b.Loop() {
		if resp := st.Do(b, r); resp.Status != 401 {
			b.Fatalf("status %d", resp.Status)
		}
	}
}

// Token verification inside the module, per algorithm: a valid token for a
// merchant that is not configured (422 right after auth), so no callouts.
// Compare with BenchmarkRefusedOnHeaders, the same request without a token.
func BenchmarkAuthInModule(b *testing.B) {
	for _, c := range []struct{ alg, kid string }{{"RS256", "rsa-1"}, {"ES256", "ec-1"}, {"HS256", ""}} {
		b.Run(c.alg, func(b *testing.B) {
			st := e2etest.NewStack(b, e2etest.StackOpts{})
			r := st.Req(b, e2etest.ObjectBody)
			r.Path = "/api/v2/domains/unknown.shop/session/transfer"
			r.Headers[1] = [2]string{"x-firmly-authorization", e2etest.Token(b, c.alg, c.kid, e2etest.DeviceClaims())}
			for b.Loop() {
				if resp := st.Do(b, r); resp.Status != 422 {
					b.Fatalf("status %d %s", resp.Status, resp.Body)
				}
			}
		})
	}
}

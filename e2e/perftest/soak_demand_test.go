package perftest

import (
	"os"
	"strconv"
	"testing"
)

// TestMemorySoakOnDemand runs SOAK_TRANSFERS transfers (each followed by a
// pass-through), every one with a fresh HS256 token so a token cache cannot
// hide a leak, all upstreams in process:
//
//	SOAK_TRANSFERS=100000 go test -count=1 -timeout 1h -run TestMemorySoakOnDemand -v ./e2e/perftest
//
// Linear memory must stay at most 16 MiB and flat after the first tenth.
// CI runs the short TestMemoryStaysBoundedOverManyTransfers instead.
func TestMemorySoakOnDemand(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SOAK_TRANSFERS"))
	if n <= 0 {
		t.Skip("set SOAK_TRANSFERS (e.g. 100000) to run the soak")
	}
	const maxPages = 16 * 16 // 16 MiB in 64 KiB pages
	h := newPerfHost(t)
	vm := h.Worker(0)
	pass := perfScenarios()[0]
	warmAt := max(n/10, 200)
	var warm uint32
	for i := 1; i <= n; i++ {
		perfDo(t, h, transferRequest(perfToken(t, "HS256", i)), 200)
		perfDo(t, h, pass.next(t, i), 200)
		if i == warmAt {
			warm = vm.MemoryPages()
		}
		if i%(max(n/10, 1)) == 0 || i == n {
			pages := vm.MemoryPages()
			t.Logf("%d transfers: linear memory %d pages (%.1f MiB)", i, pages, float64(pages)/16)
			if pages > maxPages {
				t.Fatalf("linear memory %d pages after %d transfers, want at most %d (16 MiB)", pages, i, maxPages)
			}
		}
	}
	if after := vm.MemoryPages(); warm > 0 && after > warm+32 {
		t.Errorf("memory grew from %d to %d pages after the first %d transfers, want flat (at most 2 MiB of GC headroom)", warm, after, warmAt)
	}
}

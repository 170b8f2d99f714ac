package perftest

import (
	"slices"
	"testing"
)

// A request that is not a transfer costs the module one hostcall: reading
// :path (and its one allocation callback) in proxy_on_request_headers.
// Nothing else in any callback: no header map read whole, no clock, no log,
// no metric. Each extra hostcall was measured at 1–3 µs under wazero.
func TestPassThroughMakesOnlyTheFastPathsHostcalls(t *testing.T) {
	h := newPerfHost(t)
	sc := perfScenarios()[0] // pass-through GET
	perfDo(t, h, sc.next(t, 0), sc.status)
	h.MeasureModuleTime(true)
	perfDo(t, h, sc.next(t, 1), sc.status)
	trace := h.TakeModuleTime().Trace
	var exports []string
	for _, tr := range trace {
		exports = append(exports, tr.Export)
		want := []string(nil)
		if tr.Export == "proxy_on_request_headers" {
			want = []string{"proxy_get_header_map_value", "proxy_on_memory_allocate"}
		}
		if !slices.Equal(tr.Hostcalls, want) {
			t.Errorf("%s made hostcalls %v, want %v", tr.Export, tr.Hostcalls, want)
		}
	}
	if !slices.Contains(exports, "proxy_on_request_headers") {
		t.Errorf("callbacks %v, want proxy_on_request_headers among them", exports)
	}
}

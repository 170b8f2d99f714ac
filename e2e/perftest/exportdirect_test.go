package perftest

import (
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

// TestPerfExportDirect checks the module time TestPerfExports reports for
// proxy_on_response_headers on a pass-through (an export that runs no
// plugin code) against wazero's Function.Call timed directly, with the same
// arguments, in the same VM and the same run: called back to back, each
// call from a goroutine of its own (as the host answers an upstream on
// one), and each after other memory was touched (as the host's upstream
// round trip does between the request's and the response's callbacks).
// Each figure is the best round's mean. With PERF_BASE_WASM the request
// headers' stretches are also timed on the base module, interleaved. On
// demand:
//
//	PERF_EXPORTS=9 PLUGIN_WASM=$PWD/plugin.wasm go test -run TestPerfExportDirect -v ./e2e/perftest
func TestPerfExportDirect(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("PERF_EXPORTS"))
	if rounds < 1 {
		t.Skip("set PERF_EXPORTS to a number of rounds")
	}
	var pass, refused perfScenario
	for _, sc := range perfScenarios() {
		switch sc.name {
		case "pass-through GET":
			pass = sc
		case "401 on headers":
			refused = sc
		}
	}
	h, err := startPerfHost(t, e2etest.PluginWasm(t), nil, configPlain)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		perfDo(t, h, pass.next(t, 0), pass.status)
	}
	// With PERF_BASE_WASM, the base module's request headers are also
	// timed back to back, in the same rounds, for a before and after.
	var hb *envoyhost.Host
	if base := os.Getenv("PERF_BASE_WASM"); base != "" {
		b, err := os.ReadFile(base)
		if err != nil {
			t.Fatal(err)
		}
		if hb, err = startPerfHost(t, b, nil, configPlain); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			perfDo(t, hb, pass.next(t, 0), pass.status)
		}
	}
	const n = 300
	const export = "proxy_on_response_headers"
	// 8 MiB: more than this machine's last-level cache per core.
	evict := make([]byte, 8<<20)
	var sink byte
	direct := func(call func()) { call() }
	variants := []struct {
		name   string
		invoke func(call func())
	}{
		{"back to back", direct},
		{"each from a new goroutine", func(call func()) {
			done := make(chan struct{})
			go func() { call(); close(done) }()
			<-done
		}},
		{"each from a new goroutine whose stack has grown", func(call func()) {
			done := make(chan struct{})
			go func() { growStack(32); call(); close(done) }()
			<-done
		}},
		{"each after 8 MiB touched", func(call func()) {
			for i := 0; i < len(evict); i += 64 {
				evict[i]++
			}
			sink += evict[len(evict)-1]
			call()
		}},
		{"each after 8 MiB touched, from a new goroutine", func(call func()) {
			for i := 0; i < len(evict); i += 64 {
				evict[i]++
			}
			sink += evict[len(evict)-1]
			done := make(chan struct{})
			go func() { call(); close(done) }()
			<-done
		}},
	}
	inf := time.Duration(1 << 62)
	bestReq, bestNoGC, best401, bareWall, bareWall401 := inf, inf, inf, inf, inf
	// The request headers' module time by stretch of guest code, called
	// back to back: the 401's and the pass-through's, from the best round.
	var segs [2][]envoyhost.Segment
	var segsTotal [2]time.Duration
	var segsCalls [2]int
	var baseSegs [2][]envoyhost.Segment // the same, for the base module
	var baseTotal [2]time.Duration
	var baseCalls [2]int
	// The ABI marker is an empty go:wasmexport: the engine's entry and exit
	// and the Go wrapper, and nothing else.
	const empty = "proxy_abi_version_0_2_1"
	bestEmpty := make([]time.Duration, len(variants))
	for i := range bestEmpty {
		bestEmpty[i] = inf
	}
	bestWall401 := make([]time.Duration, len(variants))
	bestMod401 := make([]time.Duration, len(variants))
	bestWall := make([]time.Duration, len(variants))
	bestMod := make([]time.Duration, len(variants))
	for i := range variants {
		bestWall[i], bestMod[i] = inf, inf
		bestWall401[i], bestMod401[i] = inf, inf
	}
	for range rounds {
		h.MeasureModuleTime(false)
		for range n {
			perfDo(t, h, pass.next(t, 0), pass.status)
		}
		if e := h.TakeModuleTime().Exports[export]; e.Calls > 0 {
			bestReq = min(bestReq, e.Module/time.Duration(e.Calls))
		}
		old := debug.SetGCPercent(-1)
		h.MeasureModuleTime(false)
		for range n {
			perfDo(t, h, pass.next(t, 0), pass.status)
		}
		debug.SetGCPercent(old)
		if e := h.TakeModuleTime().Exports[export]; e.Calls > 0 {
			bestNoGC = min(bestNoGC, e.Module/time.Duration(e.Calls))
		}
		for i, v := range variants {
			got, err := h.TimeStreamExport(export, n, true, v.invoke, 3, 0)
			if err != nil {
				t.Fatal(err)
			}
			bestWall[i] = min(bestWall[i], got.Wall/time.Duration(got.Calls))
			bestMod[i] = min(bestMod[i], got.Module/time.Duration(got.Calls))
		}
		for i, v := range variants {
			got, err := h.TimeStreamExport(empty, n, false, v.invoke)
			if err != nil {
				t.Fatal(err)
			}
			bestEmpty[i] = min(bestEmpty[i], got.Wall/time.Duration(got.Calls))
		}
		got, err := h.TimeStreamExport(export, n, false, direct, 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		bareWall = min(bareWall, got.Wall/time.Duration(got.Calls))
		got, err = h.TimeRequestHeaders(refused.next(t, 0).HeaderPairs(), n, false, direct)
		if err != nil {
			t.Fatal(err)
		}
		bareWall401 = min(bareWall401, got.Wall/time.Duration(got.Calls))
		for k, sc := range []perfScenario{refused, pass} {
			got, err := h.TimeRequestHeaders(sc.next(t, 0).HeaderPairs(), n, true, direct)
			if err != nil {
				t.Fatal(err)
			}
			if segs[k] == nil || got.Module < segsTotal[k] {
				segs[k], segsTotal[k] = got.Segments, got.Module
				segsCalls[k] = got.Calls
			}
			if hb == nil {
				continue
			}
			got, err = hb.TimeRequestHeaders(sc.next(t, 0).HeaderPairs(), n, true, direct)
			if err != nil {
				t.Fatal(err)
			}
			if baseSegs[k] == nil || got.Module < baseTotal[k] {
				baseSegs[k], baseTotal[k] = got.Segments, got.Module
				baseCalls[k] = got.Calls
			}
		}
		h.MeasureModuleTime(false)
		for range n {
			perfDo(t, h, refused.next(t, 0), refused.status)
		}
		if e := h.TakeModuleTime().Exports["proxy_on_request_headers"]; e.Calls > 0 {
			best401 = min(best401, e.Module/time.Duration(e.Calls))
		}
		for i, v := range variants {
			got, err := h.TimeRequestHeaders(refused.next(t, 0).HeaderPairs(), n, true, v.invoke)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(got.Hostcalls, "proxy_send_local_response") {
				t.Fatalf("called directly, the 401's headers made hostcalls %q, want the local reply's among them", got.Hostcalls)
			}
			bestWall401[i] = min(bestWall401[i], got.Wall/time.Duration(got.Calls))
			bestMod401[i] = min(bestMod401[i], got.Module/time.Duration(got.Calls))
		}
	}
	us := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Nanoseconds())/1e3) }
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s, pass-through, µs per call under wazero, best of %d rounds of %d\n\n", export, rounds, n)
	b.WriteString("| how it was called | module time (accounting) | Function.Call wall |\n| --- | ---: | ---: |\n")
	fmt.Fprintf(&b, "| in the request (TestPerfExports' figure) | %s | – |\n", us(bestReq))
	fmt.Fprintf(&b, "| in the request, the host's GC off | %s | – |\n", us(bestNoGC))
	for i, v := range variants {
		fmt.Fprintf(&b, "| directly, %s | %s | %s |\n", v.name, us(bestMod[i]), us(bestWall[i]))
	}
	fmt.Fprintf(&b, "| directly, back to back, accounting off | – | %s |\n", us(bareWall))
	for i, v := range variants {
		fmt.Fprintf(&b, "| %s (empty export), %s, accounting off | – | %s |\n", empty, v.name, us(bestEmpty[i]))
	}
	fmt.Fprintf(&b, "\nproxy_on_request_headers, 401 on headers, µs per call under wazero, best of %d rounds of %d\n\n", rounds, n)
	b.WriteString("| how it was called | module time (accounting) | Function.Call wall |\n| --- | ---: | ---: |\n")
	fmt.Fprintf(&b, "| in the request (TestPerfExports' figure) | %s | – |\n", us(best401))
	for i, v := range variants {
		fmt.Fprintf(&b, "| directly, %s | %s | %s |\n", v.name, us(bestMod401[i]), us(bestWall401[i]))
	}
	fmt.Fprintf(&b, "| directly, back to back, accounting off | – | %s |\n", us(bareWall401))
	for k, what := range []string{"401 on headers", "pass-through"} {
		fmt.Fprintf(&b, "\nproxy_on_request_headers, %s, called back to back: module µs per call by stretch of guest code (%s in all)\n\n", what, us(segsTotal[k]/time.Duration(segsCalls[k])))
		if hb == nil {
			b.WriteString("| from | to | module µs |\n| --- | --- | ---: |\n")
			for _, sg := range segs[k] {
				fmt.Fprintf(&b, "| %s | %s | %s |\n", sg.From, sg.To, us(sg.Module/time.Duration(segsCalls[k])))
			}
			continue
		}
		fmt.Fprintf(&b, "base, same rounds: %s in all\n\n", us(baseTotal[k]/time.Duration(baseCalls[k])))
		b.WriteString("| from | to | base | this |\n| --- | --- | ---: | ---: |\n")
		for i, sg := range segs[k] {
			bv := "–"
			if i < len(baseSegs[k]) && baseSegs[k][i].To == sg.To {
				bv = us(baseSegs[k][i].Module / time.Duration(baseCalls[k]))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", sg.From, sg.To, bv, us(sg.Module/time.Duration(segsCalls[k])))
		}
	}
	fmt.Print(b.String())
	_ = sink
}

// growStack uses about depth KiB of the goroutine's stack, so that the
// stack has grown (been copied) before what runs next.
//
//go:noinline
func growStack(depth int) byte {
	var pad [1024]byte
	pad[depth%len(pad)] = byte(depth)
	if depth == 0 {
		return pad[0]
	}
	return growStack(depth-1) + pad[depth%len(pad)]
}

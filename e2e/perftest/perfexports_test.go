package perftest

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

// TestPerfExports prints, under wazero, the module µs per request of each
// export for the pass-through, the 401, the cached transfer and the
// delegated one: where a row's time goes. With PERF_BASE_WASM the base
// module runs interleaved in the same rounds (a row whose configuration it
// refuses shows "–" for it). Each figure is the best round's mean. On demand:
//
//	PERF_EXPORTS=9 PLUGIN_WASM=$PWD/plugin.wasm go test -run TestPerfExports -v ./e2e/perftest
func TestPerfExports(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("PERF_EXPORTS"))
	if rounds < 1 {
		t.Skip("set PERF_EXPORTS to a number of rounds")
	}
	mods := [][]byte{e2etest.PluginWasm(t)}
	names := []string{"this"}
	if base := os.Getenv("PERF_BASE_WASM"); base != "" {
		b, err := os.ReadFile(base)
		if err != nil {
			t.Fatal(err)
		}
		mods, names = append(mods, b), append(names, "base")
	}
	var scs []perfScenario
	for _, sc := range perfScenarios() {
		switch sc.name {
		case "pass-through GET", "401 on headers", "transfer RS256, cached token", delegatedRow:
			scs = append(scs, sc)
		}
	}
	perRound := map[bool]int{true: 20, false: 300}
	// best[module][scenario][export] is the best round's µs per request.
	best := make([][]map[string]float64, len(mods))
	hosts := make([][perfConfigurations]*envoyhost.Host, len(mods))
	for m, mod := range mods {
		for c := range perfConfigurations {
			h, err := startPerfHost(t, mod, nil, c)
			if err != nil && m == 0 {
				t.Fatal(err)
			}
			hosts[m][c] = h // nil where the base refuses the configuration
		}
		best[m] = make([]map[string]float64, len(scs))
		for i, sc := range scs {
			best[m][i] = map[string]float64{}
			for range 5 {
				if h := hosts[m][sc.config()]; h != nil {
					perfDo(t, h, sc.next(t, 0), sc.status)
				}
			}
		}
	}
	seq := 1000
	for r := range rounds {
		for i, sc := range scs {
			n := perRound[strings.HasPrefix(sc.name, "transfer")]
			for k := range mods {
				m := k
				if r%2 == 1 {
					m = len(mods) - 1 - k
				}
				h := hosts[m][sc.config()]
				if h == nil {
					continue
				}
				h.MeasureModuleTime(false)
				for range n {
					seq++
					perfDo(t, h, sc.next(t, seq), sc.status)
				}
				for name, e := range h.TakeModuleTime().Exports {
					v := float64(e.Module.Nanoseconds()) / 1e3 / float64(n)
					if old, ok := best[m][i][name]; !ok || v < old {
						best[m][i][name] = v
					}
				}
			}
		}
	}
	var b strings.Builder
	for i, sc := range scs {
		fmt.Fprintf(&b, "\n%s: module µs per request by export under wazero, best of %d rounds\n\n| export |", sc.name, rounds)
		for _, n := range names {
			fmt.Fprintf(&b, " %s |", n)
		}
		b.WriteString("\n| --- |" + strings.Repeat(" ---: |", len(names)) + "\n")
		var exports []string
		for name := range best[0][i] {
			exports = append(exports, name)
		}
		slices.Sort(exports)
		for _, e := range exports {
			fmt.Fprintf(&b, "| %s |", e)
			for m := range mods {
				if v, ok := best[m][i][e]; ok {
					fmt.Fprintf(&b, " %.2f |", v)
				} else {
					b.WriteString(" – |")
				}
			}
			b.WriteString("\n")
		}
	}
	fmt.Print(b.String())
}

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
// export for the pass-through, the 401 and the cached transfer: where a
// row's time goes. With PERF_BASE_WASM the base module runs interleaved in
// the same rounds. Each figure is the best round's mean. On demand:
//
//	PERF_EXPORTS=9 PLUGIN_WASM=$PWD/plugin.wasm go test -run TestPerfExports -v ./e2e
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
		case "pass-through GET", "401 on headers", "transfer RS256, cached token":
			scs = append(scs, sc)
		}
	}
	perRound := map[bool]int{true: 20, false: 300}
	// best[module][scenario][export] is the best round's µs per request.
	best := make([][]map[string]float64, len(mods))
	hosts := make([]*envoyhost.Host, len(mods))
	for m, mod := range mods {
		hosts[m] = newPerfHostWasm(t, mod, nil)
		best[m] = make([]map[string]float64, len(scs))
		for i, sc := range scs {
			best[m][i] = map[string]float64{}
			for range 5 {
				perfDo(t, hosts[m], sc.next(t, 0), sc.status)
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
				h := hosts[m]
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
				fmt.Fprintf(&b, " %.2f |", best[m][i][e])
			}
			b.WriteString("\n")
		}
	}
	fmt.Print(b.String())
}

package perftest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/internal/transfer"
)

// TestPerfTable prints the table of ./build.sh bench: the module's own µs
// per request natively, under wazero and under V8 (node --no-liftoff), over
// rounds that interleave the scenarios. Each figure is the best round's
// mean per request: on a shared machine other load only ever adds time, and
// medians moved by ×2 between identical runs while the best round stayed
// within a few per cent. A round is long enough to include the module's
// garbage collections. It runs only when PERF_TABLE is set (to the number
// of rounds, or 1 for the default of 9).
func TestPerfTable(t *testing.T) {
	if os.Getenv("PERF_TABLE") == "" {
		t.Skip("set PERF_TABLE=1 (./build.sh bench)")
	}
	rounds := 9
	if n, err := strconv.Atoi(os.Getenv("PERF_TABLE")); err == nil && n > 1 {
		rounds = n
	}
	perRound := func(name string) int {
		switch {
		case strings.HasPrefix(name, "transfer"):
			return 20
		case strings.HasPrefix(name, "400"):
			return 100
		}
		return 300
	}
	scs := perfScenarios()
	// The requests of every round, made up front: signing tokens between
	// measured requests would also evict the caches the module runs from.
	reqs := make([][][]*envoyhost.Request, len(scs))
	seq := 0
	for i, sc := range scs {
		reqs[i] = make([][]*envoyhost.Request, rounds)
		for r := range rounds {
			for range perRound(sc.name) {
				seq++
				reqs[i][r] = append(reqs[i][r], sc.next(t, seq))
			}
		}
	}
	warm := func(i int) *envoyhost.Request { seq++; return scs[i].next(t, seq) }

	native := make([][]float64, len(scs))
	engines := [2]*transfer.Engine{nativeEngineFor(t, false), nativeEngineFor(t, true)}
	for r := range rounds {
		for i, sc := range scs {
			var d time.Duration
			e := engines[b2i(sc.delegated())]
			for _, q := range reqs[i][r] {
				start := time.Now()
				got := nativeRun(e, q)
				d += time.Since(start)
				if got != sc.status {
					t.Fatalf("%s natively: status %d, want %d", sc.name, got, sc.status)
				}
			}
			native[i] = append(native[i], float64(d.Nanoseconds())/1e3/float64(len(reqs[i][r])))
		}
	}

	hosts := [2]*envoyhost.Host{newPerfHostFor(t, false), newPerfHostFor(t, true)}
	h := hosts[0]
	wz := make([][]float64, len(scs))
	traces := make([][]string, len(scs))
	for i, sc := range scs {
		h := hosts[b2i(sc.delegated())]
		h.MeasureModuleTime(true)
		perfDo(t, h, warm(i), sc.status)
		for _, tr := range h.TakeModuleTime().Trace {
			traces[i] = append(traces[i], tr.Export)
		}
		for range 3 {
			perfDo(t, h, warm(i), sc.status)
		}
	}
	for _, h := range hosts {
		h.MeasureModuleTime(false)
	}
	for r := range rounds {
		for i, sc := range scs {
			h := hosts[b2i(sc.delegated())]
			h.TakeModuleTime()
			for _, q := range reqs[i][r] {
				perfDo(t, h, q, sc.status)
			}
			wz[i] = append(wz[i], float64(h.TakeModuleTime().Module().Nanoseconds())/1e3/float64(len(reqs[i][r])))
		}
	}

	v8, v8note := runV8(t, scs, reqs, rounds, warm, traces)

	var b strings.Builder
	fmt.Fprintf(&b, "module µs per request, best of %d interleaved rounds (%s)\n\n", rounds, time.Now().UTC().Format("2006-01-02"))
	b.WriteString("| scenario | native | wazero | V8 | wazero/native | V8/native |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for i, sc := range scs {
		n, w := best(native[i]), best(wz[i])
		v8s, v8r := v8note, "–"
		if v8 != nil {
			v := best(v8[i])
			v8s, v8r = us(v), fmt.Sprintf("%.1f×", v/n)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f× | %s |\n", sc.name, us(n), us(w), v8s, w/n, v8r)
	}
	fmt.Fprintf(&b, "\nwazero linear memory: %.1f MiB", float64(h.Worker(0).MemoryPages())/16)
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		// Other load inflates every figure; say how much there was.
		fmt.Fprintf(&b, "; load average %s", strings.Join(strings.Fields(string(la))[:3], " "))
	}
	b.WriteString("\n")
	fmt.Print(b.String())
	if out := os.Getenv("PERF_TABLE_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func us(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f µs", v)
	}
	return fmt.Sprintf("%.1f µs", v)
}

func best(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Min(v)
}

type v8Request struct {
	Headers  envoyhost.Pairs `json:"headers"`
	Body     string          `json:"body"`
	Metadata map[string]any  `json:"metadata,omitempty"` // filter_metadata by namespace
}

type v8Answer struct {
	Status  int             `json:"status"`
	Headers envoyhost.Pairs `json:"headers"`
	Body    string          `json:"body"`
}

func v8Req(r *envoyhost.Request) v8Request {
	return v8Request{r.HeaderPairs(), string(r.Body), metadataJSON(r.Metadata)}
}

// runV8 runs the scenarios in e2e/v8bench/host.mjs under node --no-liftoff
// and returns per scenario the µs of each round; without node, nil and a
// note for the table. The export calls of each scenario's first request
// must be the ones the wazero host made, or the comparison is not fair.
func runV8(t *testing.T, scs []perfScenario, reqs [][][]*envoyhost.Request, rounds int, warm func(int) *envoyhost.Request, traces [][]string) ([][]float64, string) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, "no node"
	}
	wasmPath := os.Getenv("PLUGIN_WASM")
	if wasmPath == "" {
		wasmPath = filepath.Join(t.TempDir(), "plugin.wasm")
		if err := os.WriteFile(wasmPath, e2etest.PluginWasm(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type scenarioIn struct {
		Name     string        `json:"name"`
		Plugin   int           `json:"plugin"` // index into PluginConfigs
		Status   int           `json:"status"`
		Warmup   v8Request     `json:"warmup"`
		Requests [][]v8Request `json:"requests"`
	}
	in := struct {
		Wasm          string              `json:"wasm"`
		PluginConfigs []string            `json:"pluginConfigs"`
		Clusters      map[string]v8Answer `json:"clusters"`
		Route         string              `json:"route"`
		Rounds        int                 `json:"rounds"`
		Scenarios     []scenarioIn        `json:"scenarios"`
	}{
		Wasm: wasmPath, PluginConfigs: []string{perfPluginConfig(t, false), perfPluginConfig(t, true)}, Route: "app", Rounds: rounds,
		Clusters: map[string]v8Answer{
			"merchant_luma":   {200, envoyhost.Pairs{{"content-type", "application/json"}, {"content-length", strconv.Itoa(len(e2etest.LumaCart))}}, e2etest.LumaCart},
			"session_backend": {201, envoyhost.Pairs{{"content-type", "application/json"}, {"content-length", strconv.Itoa(len(backendAnswer))}}, backendAnswer},
			"app":             {200, envoyhost.Pairs{{"content-length", strconv.Itoa(len(appAnswer))}, {"content-type", "text/plain"}}, appAnswer},
		},
	}
	for i, sc := range scs {
		s := scenarioIn{Name: sc.name, Plugin: b2i(sc.delegated()), Status: sc.status, Warmup: v8Req(warm(i))}
		for r := range rounds {
			var rs []v8Request
			for _, q := range reqs[i][r] {
				rs = append(rs, v8Req(q))
			}
			s.Requests = append(s.Requests, rs)
		}
		in.Scenarios = append(in.Scenarios, s)
	}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	inPath := filepath.Join(t.TempDir(), "v8bench.json")
	if err := os.WriteFile(inPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "--no-liftoff", filepath.Join("..", "v8bench", "host.mjs"), inPath)
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var out struct {
		Scenarios map[string]struct {
			Exports []string  `json:"exports"`
			Rounds  []float64 `json:"rounds"`
		} `json:"scenarios"`
	}
	if err := json.Unmarshal(outb, &out); err != nil {
		t.Fatalf("node output %q: %v", outb, err)
	}
	res := make([][]float64, len(scs))
	for i, sc := range scs {
		got := out.Scenarios[sc.name]
		if !slices.Equal(got.Exports, traces[i]) {
			t.Errorf("%s: V8 host called %v, wazero host %v", sc.name, got.Exports, traces[i])
		}
		res[i] = got.Rounds
	}
	return res, ""
}

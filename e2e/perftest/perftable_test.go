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
	engines := nativeEngines(t)
	for r := range rounds {
		for i, sc := range scs {
			var d time.Duration
			e := engines[sc.config()]
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

	// The module, and with PERF_BASE_WASM the base module to compare it
	// with: both run every round, alternating which goes first, so before
	// and after come from the same run under the same load.
	mods := [][]byte{e2etest.PluginWasm(t)}
	if base := os.Getenv("PERF_BASE_WASM"); base != "" {
		b, err := os.ReadFile(base)
		if err != nil {
			t.Fatalf("PERF_BASE_WASM: %v", err)
		}
		mods = append(mods, b)
	}
	// PERF_GOGC is the module's GOGC, set through the VM environment as
	// Envoy's vm_config.environment_variables would (the base keeps the
	// default): with PERF_BASE_WASM=plugin.wasm it measures the setting.
	envs := make([]map[string]string, len(mods))
	envs[0] = gogcEnv()
	// A host per module and plugin configuration. The base may refuse a
	// configuration it predates (auth.verified_payload before 2026-12-02):
	// its rows then have no base figures, and refused says why.
	hosts := make([][perfConfigurations]*envoyhost.Host, len(mods))
	refused := map[int]error{}
	wz := make([][][]float64, len(mods))
	wzReq := make([][][]float64, len(mods)) // every request's µs

	traces := make([][][]string, len(mods))
	for m, mod := range mods {
		for c := range perfConfigurations {
			h, err := startPerfHost(t, mod, envs[m], c)
			if err != nil && m == 0 {
				t.Fatal(err)
			}
			if err != nil {
				refused[c] = err
			}
			hosts[m][c] = h
		}
		wz[m] = make([][]float64, len(scs))
		wzReq[m] = make([][]float64, len(scs))
		traces[m] = make([][]string, len(scs))
		for i, sc := range scs {
			h := hosts[m][sc.config()]
			if h == nil {
				continue
			}
			h.MeasureModuleTime(true)
			perfDo(t, h, warm(i), sc.status)
			for _, tr := range h.TakeModuleTime().Trace {
				traces[m][i] = append(traces[m][i], tr.Export)
			}
			for range 3 {
				perfDo(t, h, warm(i), sc.status)
			}
			h.MeasureModuleTime(false)
		}
	}
	for r := range rounds {
		for i, sc := range scs {
			for k := range mods {
				m := k
				if r%2 == 1 {
					m = len(mods) - 1 - k
				}
				h := hosts[m][sc.config()]
				if h == nil {
					continue
				}
				h.TakeModuleTime()
				var sum float64
				for _, q := range reqs[i][r] {
					perfDo(t, h, q, sc.status)
					us := float64(h.TakeModuleTime().Module().Nanoseconds()) / 1e3
					sum += us
					wzReq[m][i] = append(wzReq[m][i], us)
				}
				wz[m][i] = append(wz[m][i], sum/float64(len(reqs[i][r])))
			}
		}
	}

	v8, v8Req, v8note := runV8(t, scs, reqs, rounds, warm, traces, len(mods) > 1, refused)

	var b strings.Builder
	fmt.Fprintf(&b, "module µs per request, best of %d interleaved rounds (%s)\n\n", rounds, time.Now().UTC().Format("2006-01-02"))
	b.WriteString("| scenario | native | wazero | V8 | wazero/native | V8/native |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for i, sc := range scs {
		n, w := best(native[i]), best(wz[0][i])
		v8s, v8r := v8note, "–"
		if v8 != nil {
			v := best(v8[0][i])
			v8s, v8r = us(v), fmt.Sprintf("%.1f×", v/n)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f× | %s |\n", sc.name, us(n), us(w), v8s, w/n, v8r)
	}
	if len(mods) > 1 {
		// Best round means, then every request's median: a round's mean
		// includes the garbage collections, the median is what load on a
		// shared machine moves least.
		for _, stat := range []struct {
			title string
			wz    [][][]float64
			v8    [][][]float64
			of    func([]float64) float64
		}{
			{"best round", wz, v8, best},
			{"median request", wzReq, v8Req, median},
		} {
			fmt.Fprintf(&b, "\nbase module (PERF_BASE_WASM) and this one, interleaved in the same rounds: %s\n\n", stat.title)
			b.WriteString("| scenario | wazero base | wazero | ratio | V8 base | V8 | ratio |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
			for i, sc := range scs {
				if _, ok := refused[sc.config()]; ok {
					w, v8n := us(stat.of(stat.wz[0][i])), v8note
					if stat.v8 != nil {
						v8n = us(stat.of(stat.v8[0][i]))
					}
					fmt.Fprintf(&b, "| %s | refused¹ | %s | – | refused¹ | %s | – |\n", sc.name, w, v8n)
					continue
				}
				wb, w := stat.of(stat.wz[1][i]), stat.of(stat.wz[0][i])
				v8b, v8n, v8r := v8note, v8note, "–"
				if stat.v8 != nil {
					vb, v := stat.of(stat.v8[1][i]), stat.of(stat.v8[0][i])
					v8b, v8n, v8r = us(vb), us(v), fmt.Sprintf("%.2f×", v/vb)
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %.2f× | %s | %s | %s |\n", sc.name, us(wb), us(w), w/wb, v8b, v8n, v8r)
			}
			for c, err := range refused {
				// The row has no base figure: say why instead of failing.
				fmt.Fprintf(&b, "\n¹ the base module refuses the %s configuration: %s\n", map[int]string{configPlain: "plain", configDelegated: "delegated"}[c], firstLine(err.Error()))
			}
		}
	}
	fmt.Fprintf(&b, "\nwazero linear memory: %.1f MiB", float64(hosts[0][configPlain].Worker(0).MemoryPages())/16)
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

// gogcEnv is the module's environment under PERF_GOGC (nil without).
func gogcEnv() map[string]string {
	if g := os.Getenv("PERF_GOGC"); g != "" {
		return map[string]string{"GOGC": g}
	}
	return nil
}

func us(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f µs", v)
	}
	return fmt.Sprintf("%.1f µs", v)
}

// firstLine is s up to its first newline (a host error carries its logs).
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
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
// and returns per module (the module, then the base with withBase) and
// scenario the µs of each round; without node, nil and a note for the
// table. The export calls of each scenario's first request must be the ones
// the wazero host made with the same module, or the comparison is not
// fair. A configuration in refused (by index) is one the base refused under
// wazero: the V8 host must refuse it too, and measures none of its rows on
// the base. PERF_NODE_FLAGS adds node flags (e.g. --cpu-prof
// --cpu-prof-dir=DIR for a profile of the run).
func runV8(t *testing.T, scs []perfScenario, reqs [][][]*envoyhost.Request, rounds int, warm func(int) *envoyhost.Request, traces [][][]string, withBase bool, refused map[int]error) (roundsOut, requestsOut [][][]float64, note string) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, nil, "no node"
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
		Config   int           `json:"config"` // index into pluginConfigs
		Status   int           `json:"status"`
		Warmup   v8Request     `json:"warmup"`
		Requests [][]v8Request `json:"requests"`
	}
	in := struct {
		Wasm          string              `json:"wasm"`
		BaseWasm      string              `json:"baseWasm,omitempty"`
		Env           map[string]string   `json:"env,omitempty"`
		PluginConfigs []string            `json:"pluginConfigs"`
		Clusters      map[string]v8Answer `json:"clusters"`
		Route         string              `json:"route"`
		Rounds        int                 `json:"rounds"`
		Scenarios     []scenarioIn        `json:"scenarios"`
	}{
		Wasm: wasmPath, BaseWasm: map[bool]string{true: os.Getenv("PERF_BASE_WASM")}[withBase], Env: gogcEnv(), Route: "app", Rounds: rounds,
		Clusters: map[string]v8Answer{
			"merchant_luma":   {200, envoyhost.Pairs{{"content-type", "application/json"}, {"content-length", strconv.Itoa(len(e2etest.LumaCart))}}, e2etest.LumaCart},
			"session_backend": {201, envoyhost.Pairs{{"content-type", "application/json"}, {"content-length", strconv.Itoa(len(backendAnswer))}}, backendAnswer},
			"app":             {200, envoyhost.Pairs{{"content-length", strconv.Itoa(len(appAnswer))}, {"content-type", "text/plain"}}, appAnswer},
		},
	}
	for c := range perfConfigurations {
		in.PluginConfigs = append(in.PluginConfigs, perfPluginConfig(t, c))
	}
	for i, sc := range scs {
		s := scenarioIn{Name: sc.name, Config: sc.config(), Status: sc.status, Warmup: v8Req(warm(i))}
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
	if keep := os.Getenv("PERF_V8_INPUT"); keep != "" {
		// Kept to profile the V8 leg alone: node --no-liftoff --cpu-prof
		// e2e/v8bench/host.mjs FILE.
		inPath = keep
	}
	if err := os.WriteFile(inPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--no-liftoff"}, strings.Fields(os.Getenv("PERF_NODE_FLAGS"))...)
	cmd := exec.Command(node, append(args, filepath.Join("..", "v8bench", "host.mjs"), inPath)...)
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var out struct {
		Modules []struct {
			Refused   map[string]string `json:"refused"` // by configuration index
			Scenarios map[string]struct {
				Exports  []string  `json:"exports"`
				Rounds   []float64 `json:"rounds"`
				Requests []float64 `json:"requests"`
			} `json:"scenarios"`
		} `json:"modules"`
	}
	if err := json.Unmarshal(outb, &out); err != nil {
		t.Fatalf("node output %q: %v", outb, err)
	}
	if len(out.Modules) != len(traces) {
		t.Fatalf("node measured %d modules, want %d", len(out.Modules), len(traces))
	}
	res := make([][][]float64, len(traces))
	resReq := make([][][]float64, len(traces))
	for m := range traces {
		res[m] = make([][]float64, len(scs))
		resReq[m] = make([][]float64, len(scs))
		for c := range perfConfigurations {
			_, v8 := out.Modules[m].Refused[strconv.Itoa(c)]
			if _, wz := refused[c]; v8 != (wz && m == 1) {
				t.Errorf("module %d, configuration %d: refused under V8 %v (%s), under wazero %v", m, c, v8, out.Modules[m].Refused[strconv.Itoa(c)], wz && m == 1)
			}
		}
		for i, sc := range scs {
			got, ok := out.Modules[m].Scenarios[sc.name]
			if !ok {
				continue // refused, checked above
			}
			if !slices.Equal(got.Exports, traces[m][i]) {
				t.Errorf("%s (module %d): V8 host called %v, wazero host %v", sc.name, m, got.Exports, traces[m][i])
			}
			res[m][i] = got.Rounds
			resReq[m][i] = got.Requests
		}
	}
	return res, resReq, ""
}

package perftest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

// The worst request bodies an authenticated client can send (SPEC §2.3:
// checking a body is linear in its size), run inside the module through
// the host and timed by the host's module-time accounting.
//
//	go test ./e2e -run X -bench BodyShapesInModule -benchtime 20x
//
// BODY_BENCH_KIB=8,16,64 sizes the bodies (default 64, the default
// limits.max_body_bytes); BODY_BASELINE_WASM=name=path,... runs the same
// bodies through other modules in the same run (see docs/performance.md).

type bodyShape struct {
	name   string
	status int // the answer: 200 when the body is a valid transfer
	build  func(size int) string
}

// fill repeats item (joined by sep) inside prefix...suffix up to size bytes.
func fill(size int, prefix, item, sep, suffix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for n := 0; b.Len()+len(sep)+len(item)+len(suffix) <= size; n++ {
		if n > 0 {
			b.WriteString(sep)
		}
		b.WriteString(item)
	}
	b.WriteString(suffix)
	return b.String()
}

// fillN is fill with the item numbered, so member names differ.
func fillN(size int, prefix string, item func(i int) string, sep, suffix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for n := 0; ; n++ {
		it := item(n)
		if b.Len()+len(sep)+len(it)+len(suffix) > size {
			break
		}
		if n > 0 {
			b.WriteString(sep)
		}
		b.WriteString(it)
	}
	b.WriteString(suffix)
	return b.String()
}

const handlePrefix = `{"handle":"` + e2etest.StringHandle + `",`

func bodyShapes() []bodyShape {
	nested := func(open, close string) func(int) string {
		return func(size int) string {
			n := (size - len(handlePrefix) - 6) / (len(open) + len(close))
			return handlePrefix + `"x":` + strings.Repeat(open, n) + strings.Repeat(close, n) + `}`
		}
	}
	depth30 := strings.Repeat("[", 30) + strings.Repeat("]", 30)
	return []bodyShape{
		{"nested arrays", 400, nested("[", "]")},
		{"nested objects", 400, nested(`{"a":`, "}")},
		{"depth 32 repeated", 200, func(size int) string { return fill(size, handlePrefix+`"x":[`, depth30, ",", "]}") }},
		{"many keys", 200, func(size int) string {
			return fillN(size, handlePrefix+`"x":{`, func(i int) string { return fmt.Sprintf(`"k%05d":0`, i) }, ",", "}}")
		}},
		{"many escaped keys", 200, func(size int) string {
			return fillN(size, handlePrefix+`"x":{`, func(i int) string { return fmt.Sprintf(`"\u006b%05d":0`, i) }, ",", "}}")
		}},
		{"long keys, one prefix", 200, func(size int) string {
			p := strings.Repeat("k", 1000)
			return fillN(size, handlePrefix+`"x":{`, func(i int) string { return fmt.Sprintf(`"%s%05d":0`, p, i) }, ",", "}}")
		}},
		{"many keys, duplicate last", 400, func(size int) string {
			return fillN(size-20, handlePrefix+`"x":{`, func(i int) string { return fmt.Sprintf(`"k%05d":0`, i) }, ",", `,"k00000":1}}`)
		}},
		{"objects of 9 keys", 200, func(size int) string {
			return fill(size, handlePrefix+`"x":[`, `{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0}`, ",", "]}")
		}},
		{"many tiny objects", 200, func(size int) string { return fill(size, handlePrefix+`"x":[`, `{"a":{}}`, ",", "]}") }},
		{"long escaped string", 200, func(size int) string { return fill(size, handlePrefix+`"x":"`, `\u00e9`, "", `"}`) }},
		{"many numbers", 200, func(size int) string { return fill(size, handlePrefix+`"x":[`, `-1.5e-300`, ",", "]}") }},
	}
}

func bodyBenchSizes(tb testing.TB) []int {
	list := os.Getenv("BODY_BENCH_KIB")
	if list == "" {
		return []int{64}
	}
	var out []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 64 {
			tb.Fatalf("BODY_BENCH_KIB: %q", s)
		}
		out = append(out, n)
	}
	return out
}

// bodyHost is the plugin with every cluster in process and a valid token
// signed once (a cache hit after the first request), so what differs
// between shapes is the body.
func bodyHost(tb testing.TB, wasm []byte) *envoyhost.Host {
	tb.Helper()
	cfg := envoyhost.Config{
		PluginConfig: []byte(e2etest.PluginConfig(tb, e2etest.StackOpts{})),
		Clusters: map[string]envoyhost.Cluster{
			"merchant_luma":   {Handler: handlerAnswer(200, "application/json", e2etest.LumaCart)},
			"session_backend": {Handler: handlerAnswer(201, "application/json", backendAnswer)},
			"app":             {Handler: handlerAnswer(200, "text/plain", appAnswer)},
		},
		Routes: []envoyhost.Route{{Prefix: "/", Cluster: "app"}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := envoyhost.Start(ctx, wasm, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close(context.Background()) })
	return h
}

func bodyRequest(tok, body string) *envoyhost.Request {
	r := transferRequest(tok)
	r.Body = []byte(body)
	return r
}

// Every worst-case body gets its answer, and each is at most the default
// limits.max_body_bytes.
func TestWorstCaseBodiesAreAnswered(t *testing.T) {
	h := bodyHost(t, e2etest.PluginWasm(t))
	tok := e2etest.ValidToken(t)
	for _, s := range bodyShapes() {
		t.Run(s.name, func(t *testing.T) {
			body := s.build(65536)
			if len(body) > 65536 || len(body) < 60000 {
				t.Fatalf("the body is %d bytes", len(body))
			}
			perfDo(t, h, bodyRequest(tok, body), s.status)
		})
	}
}

func BenchmarkBodyShapesInModule(b *testing.B) {
	type module struct {
		name string
		h    *envoyhost.Host
	}
	modules := []module{{"current", bodyHost(b, e2etest.PluginWasm(b))}}
	for _, bw := range e2etest.BaselineModules(b, "BODY_BASELINE_WASM") {
		modules = append(modules, module{bw.Name, bodyHost(b, bw.Wasm)})
	}
	tok := e2etest.ValidToken(b)
	for _, s := range bodyShapes() {
		for _, kib := range bodyBenchSizes(b) {
			body := s.build(kib << 10)
			for _, m := range modules {
				b.Run(fmt.Sprintf("%s/%dKiB/%s", s.name, kib, m.name), func(b *testing.B) {
					r := bodyRequest(tok, body)
					var sum, best time.Duration
					for b.Loop() {
						m.h.MeasureModuleTime(false)
						resp, err := m.h.Do(context.Background(), r)
						if err != nil {
							b.Fatal(err)
						}
						m.h.WaitCallouts(context.Background())
						mt := m.h.TakeModuleTime().Module()
						if resp.Status != s.status && m.name == "current" {
							b.Fatalf("status %d, want %d: %s", resp.Status, s.status, resp.Body)
						}
						sum += mt
						if best == 0 || mt < best {
							best = mt
						}
					}
					// The best request as well as the mean: on a shared
					// machine other load only adds time.
					b.ReportMetric(float64(best.Microseconds())/1e3, "best-module-ms")
					b.ReportMetric(float64(sum.Microseconds())/1e3/float64(b.N), "module-ms/req")
				})
			}
		}
	}
}

package perftest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/internal/config"
	"github.com/firmly/session-transfer-filter/internal/headermap"
	"github.com/firmly/session-transfer-filter/internal/transfer"
)

// The module's own time per request: the time spent in export calls minus
// the time spent in host functions (see envoyhost.ModuleTime), with every
// upstream and callout answered in process, so no socket is involved.
// The same scenarios run natively (transfer.Engine driven directly) and
// under V8 (e2e/v8bench) for ./build.sh bench.

const (
	backendAnswer = `{"ok":true}`
	appAnswer     = "app"
)

// perfScenario is one kind of request. next returns the i-th request: a
// scenario whose token must not repeat (an uncached verification) signs a
// fresh one each time.
type perfScenario struct {
	name   string
	status int
	next   func(tb testing.TB, i int) *envoyhost.Request
}

// perfToken signs a device token unique to i, so a token cache never hits.
func perfToken(tb testing.TB, alg string, i int) string {
	kid := map[string]string{"RS256": "rsa-1", "ES256": "ec-1", "HS256": ""}[alg]
	c := e2etest.DeviceClaims()
	c["jti"] = "perf-" + strconv.Itoa(i)
	return e2etest.Token(tb, alg, kid, c)
}

func transferRequest(tok string) *envoyhost.Request {
	return &envoyhost.Request{Method: "POST", Path: e2etest.TransferPath, Authority: "api.firmly.test",
		Headers: envoyhost.Pairs{{"content-type", "application/json"}, {"x-firmly-authorization", tok}, {"x-request-id", "req-1"}},
		Body:    []byte(e2etest.ObjectBody)}
}

func perfScenarios() []perfScenario {
	var cached string
	uncached := func(alg string) func(testing.TB, int) *envoyhost.Request {
		return func(tb testing.TB, i int) *envoyhost.Request { return transferRequest(perfToken(tb, alg, i)) }
	}
	return []perfScenario{
		{"pass-through GET", 200, func(testing.TB, int) *envoyhost.Request {
			return &envoyhost.Request{Path: "/products/hoodie?color=gray", Authority: "shop.example",
				Headers: envoyhost.Pairs{{"user-agent", "Mozilla/5.0 (X11; Linux x86_64)"}, {"accept", "text/html,application/xhtml+xml"},
					{"accept-language", "en-US,en;q=0.9"}, {"accept-encoding", "gzip, deflate, br"}, {"cookie", "sid=abc; theme=dark"},
					{"x-request-id", "req-2"}, {"x-forwarded-for", "203.0.113.7"}, {"x-forwarded-proto", "https"}}}
		}},
		{"401 on headers", 401, func(testing.TB, int) *envoyhost.Request {
			return &envoyhost.Request{Method: "POST", Path: e2etest.TransferPath, Authority: "api.firmly.test",
				Headers: envoyhost.Pairs{{"content-type", "application/json"}}, Body: []byte(e2etest.ObjectBody)}
		}},
		{"400 on body (HS256)", 400, func(tb testing.TB, i int) *envoyhost.Request {
			r := transferRequest(perfToken(tb, "HS256", i))
			r.Body = []byte(`{"handle":{"handle":"cart-12345"`)
			return r
		}},
		{"transfer RS256, uncached", 200, uncached("RS256")},
		{"transfer ES256", 200, uncached("ES256")},
		{"transfer HS256", 200, uncached("HS256")},
		{"transfer RS256, cached token", 200, func(tb testing.TB, _ int) *envoyhost.Request {
			if cached == "" {
				cached = perfToken(tb, "RS256", -1)
			}
			return transferRequest(cached)
		}},
		delegatedTransferScenario(),
	}
}

// handlerAnswer is an in-process upstream that answers every request alike.
func handlerAnswer(status int, contentType, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("content-type", contentType)
		w.Header().Set("content-length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
}

// newPerfHost is the plugin in the host with every cluster in process.
func newPerfHost(tb testing.TB) *envoyhost.Host {
	tb.Helper()
	return newPerfHostWasm(tb, e2etest.PluginWasm(tb), nil)
}

// newPerfHostFor is newPerfHost under a plugin configuration (configPlain
// or configDelegated).
func newPerfHostFor(tb testing.TB, conf int) *envoyhost.Host {
	tb.Helper()
	h, err := startPerfHost(tb, e2etest.PluginWasm(tb), nil, conf)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// newPerfHostWasm is newPerfHost for a given module (the bench's base),
// with env as the VM's environment variables.
func newPerfHostWasm(tb testing.TB, wasm []byte, env map[string]string) *envoyhost.Host {
	tb.Helper()
	h, err := startPerfHost(tb, wasm, env, configPlain)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// startPerfHost returns the host's error instead of failing: a base module
// may refuse a configuration it predates (auth.verified_payload).
func startPerfHost(tb testing.TB, wasm []byte, env map[string]string, conf int) (*envoyhost.Host, error) {
	tb.Helper()
	cfg := envoyhost.Config{
		PluginConfig: []byte(perfPluginConfig(tb, conf)),
		Clusters: map[string]envoyhost.Cluster{
			"merchant_luma":   {Handler: handlerAnswer(200, "application/json", e2etest.LumaCart)},
			"session_backend": {Handler: handlerAnswer(201, "application/json", backendAnswer)},
			"app":             {Handler: handlerAnswer(200, "text/plain", appAnswer)},
		},
		Routes: []envoyhost.Route{{Prefix: "/", Cluster: "app"}},
		Env:    env,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := envoyhost.Start(ctx, wasm, cfg)
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { h.Close(context.Background()) })
	return h, nil
}

func perfDo(tb testing.TB, h *envoyhost.Host, r *envoyhost.Request, want int) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := h.Do(ctx, r)
	if err != nil {
		tb.Fatalf("%v\nlogs:\n%s", err, h.LogText())
	}
	h.WaitCallouts(ctx)
	if resp.Status != want {
		tb.Fatalf("status %d, want %d: %s", resp.Status, want, resp.Body)
	}
}

// perfRequests makes n requests of a scenario up front: signing tokens
// between measured requests would evict the caches the module runs from.
func perfRequests(b *testing.B, sc perfScenario, n int) []*envoyhost.Request {
	b.StopTimer()
	defer b.StartTimer()
	rs := make([]*envoyhost.Request, n)
	for i := range rs {
		rs[i] = sc.next(b, i+1)
	}
	return rs
}

// BenchmarkModuleTime reports the module's own µs per request under
// wazero; ns/op is the whole request through the host.
func BenchmarkModuleTime(b *testing.B) {
	for _, sc := range perfScenarios() {
		b.Run(sc.name, func(b *testing.B) {
			h := newPerfHostFor(b, sc.config())
			perfDo(b, h, sc.next(b, 0), sc.status) // warm up
			rs := perfRequests(b, sc, b.N)
			h.MeasureModuleTime(false)
			b.ResetTimer()
			for _, r := range rs {
				perfDo(b, h, r, sc.status)
			}
			mt := h.TakeModuleTime()
			b.ReportMetric(float64(mt.Module().Nanoseconds())/1e3/float64(b.N), "module-µs/req")
		})
	}
}

// nativeEngine is the same engine and configuration the plugin runs.
func nativeEngine(tb testing.TB) *transfer.Engine { return nativeEngines(tb)[configPlain] }

// nativeEngines are the engines of every plugin configuration, by index;
// the delegated one reads the metadata of the request nativeRun drives.
func nativeEngines(tb testing.TB) [perfConfigurations]*transfer.Engine {
	var es [perfConfigurations]*transfer.Engine
	for i := range es {
		cfg, err := config.Parse([]byte(perfPluginConfig(tb, i)), nil)
		if err != nil {
			tb.Fatal(err)
		}
		if es[i], err = transfer.New(cfg); err != nil {
			tb.Fatal(err)
		}
	}
	es[configDelegated].SetMetadataReader(nativeMetadataReader)
	return es
}

// nativeRun drives the engine through one request as the plugin does and
// returns the status of the answer (200 for a pass-through, which the
// upstream answers).
func nativeRun(e *transfer.Engine, r *envoyhost.Request) int {
	nativeMetadata = r.Metadata
	now := time.Now()
	t, step := e.Start(headermap.Pairs(r.HeaderPairs()), now)
	if step.Kind == transfer.AwaitBody {
		step = t.OnBody(r.Body)
	}
	answers := []struct {
		status int
		body   string
	}{{200, e2etest.LumaCart}, {201, backendAnswer}}
	for i := 0; step.Kind == transfer.Dispatch && i < len(answers); i++ {
		a := answers[i]
		step = t.OnCalloutAnswer(a.status, []byte(a.body), len(a.body), now)
	}
	switch step.Kind {
	case transfer.PassThrough:
		return 200
	case transfer.Reply:
		return step.Reply.Status
	}
	return -1
}

// BenchmarkNative is the same scenarios in the same Go packages, natively.
func BenchmarkNative(b *testing.B) {
	es := nativeEngines(b)
	for _, sc := range perfScenarios() {
		b.Run(sc.name, func(b *testing.B) {
			e := es[sc.config()]
			rs := perfRequests(b, sc, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for _, r := range rs {
				if got := nativeRun(e, r); got != sc.status {
					b.Fatalf("status %d, want %d", got, sc.status)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "module-µs/req")
		})
	}
}

func TestPerfScenariosAnswerAsExpected(t *testing.T) {
	es := nativeEngines(t)
	for _, sc := range perfScenarios() {
		t.Run(fmt.Sprintf("%s answers %d natively", sc.name, sc.status), func(t *testing.T) {
			e := es[sc.config()]
			if got := nativeRun(e, sc.next(t, 1)); got != sc.status {
				t.Errorf("got %d, want %d", got, sc.status)
			}
		})
	}
}

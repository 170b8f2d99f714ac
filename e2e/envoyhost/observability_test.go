package envoyhost

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestFilterStateIsPerStreamAndReadableBack(t *testing.T) {
	h := startProbe(t, Config{})
	resp := do(t, h, &Request{Headers: probe("filter-state")})
	if got, want := string(resp.Body), "set=<nil> get=v1(<nil>)"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := resp.FilterState["wasm.probe.state"]; got != "v1" {
		t.Errorf("filter state: got %v, want wasm.probe.state=v1", resp.FilterState)
	}
	resp = do(t, h, &Request{Headers: probe("filter-state-get")})
	if got, want := string(resp.Body), "get=(error status returned by host: not found)"; got != want {
		t.Errorf("another stream: got %s, want %s", got, want)
	}
}

func TestADisabledFilterRunsOnlyOnRoutesThatEnableIt(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("app")) }))
	t.Cleanup(app.Close)
	h := startProbe(t, Config{
		FilterDisabled: true,
		Clusters:       map[string]Cluster{"app": {Addr: strings.TrimPrefix(app.URL, "http://")}},
		Routes: []Route{
			{Regex: regexp.MustCompile(`/on/[a-z]+`), Cluster: "app", Filter: RouteFilterEnabled},
			{Prefix: "/off", Cluster: "app", Filter: RouteFilterDisabled},
			{Prefix: "/", Cluster: "app"},
		},
	})
	entered := func(path string) bool {
		before := len(h.Calls())
		if resp := do(t, h, &Request{Path: path, Headers: probe("metrics")}); resp.Status != 200 {
			t.Fatalf("%s: got %d", path, resp.Status)
		}
		return slices.ContainsFunc(h.Calls()[before:], func(c string) bool { return strings.Contains(c, "proxy_on_context_create") })
	}
	for _, c := range []struct {
		path string
		want bool
	}{{"/on/x", true}, {"/off", false}, {"/elsewhere", false}, {"/on/x/deeper", false}} {
		if got := entered(c.path); got != c.want {
			t.Errorf("%s entered the VM: got %v, want %v", c.path, got, c.want)
		}
	}
}

func TestStatsRendering(t *testing.T) {
	h := &Host{metricIDs: map[string]uint32{}, cfg: Config{StatsTags: []StatsTag{
		{"merchant", regexp.MustCompile(`(m=\.=(.*?);\.;)`)}, {"outcome", regexp.MustCompile(`(o=\.=(.*?);\.;)`)},
	}}}
	c := h.defineMetric(metricCounter, "o=.=ok;.;m=.=a.example;.;demo.requests")
	h.incrementMetric(c, 2)
	hist := h.defineMetric(metricHistogram, "m=.=a.example;.;demo.ms")
	h.recordMetric(hist, 3)
	h.recordMetric(hist, 700)
	h.incrementMetric(h.defineMetric(metricCounter, "demo.plain"), 1)
	prom := h.StatsPrometheus()
	for _, want := range []string{
		"# TYPE demo_requests counter\ndemo_requests{merchant=\"a.example\",outcome=\"ok\"} 2\n",
		"# TYPE demo_ms histogram\n",
		`demo_ms_bucket{merchant="a.example",le="0.5"} 0` + "\n",
		`demo_ms_bucket{merchant="a.example",le="5"} 1` + "\n",
		`demo_ms_bucket{merchant="a.example",le="1000"} 2` + "\n",
		`demo_ms_bucket{merchant="a.example",le="3600000"} 2` + "\n", // as Envoy 1.38 and 1.40 print it
		"# TYPE demo_plain counter\ndemo_plain{} 1\n",                // braces without labels, as Envoy
		`demo_ms_bucket{merchant="a.example",le="+Inf"} 2` + "\n",
		`demo_ms_sum{merchant="a.example"} 703` + "\n",
		`demo_ms_count{merchant="a.example"} 2` + "\n",
	} {
		if !strings.Contains(prom, want) {
			t.Errorf("/stats/prometheus lacks %q:\n%s", want, prom)
		}
	}
	text := h.StatsText()
	if want := "wasmcustom.o=.=ok;.;m=.=a.example;.;demo.requests: 2\nwasmcustom.m=.=a.example;.;demo.ms: P0(nan,3) "; !strings.Contains(text, want) {
		t.Errorf("/stats: got %q, want it to hold %q", text, want)
	}
}

package envoyconfig

import (
	"os"
	"strings"
	"testing"

	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
)

const repoEnvoyYAML = "../../envoy.yaml"

// envoy.yaml passes Envoy's schema validation, and the plugin configuration
// embedded in it passes the plugin's own validation.
func TestRepositoryEnvoyYAML(t *testing.T) {
	c, err := Load(repoEnvoyYAML)
	if err != nil {
		t.Fatal(err)
	}
	w := c.Wasm
	if w.FailurePolicy != wasmv3.FailurePolicy_FAIL_CLOSED {
		t.Errorf("failure_policy %v, want FAIL_CLOSED set deliberately", w.FailurePolicy)
	}
	if !w.AllowOnHeadersStopIteration {
		t.Error("allow_on_headers_stop_iteration must be true with pause_on_headers")
	}
	cfg, err := w.ParsePluginConfig()
	if err != nil {
		t.Fatalf("the embedded plugin configuration is refused: %v", err)
	}
	if !cfg.PauseOnHeaders {
		t.Error("envoy.yaml uses pause_on_headers mode")
	}
	for name, m := range cfg.Merchants {
		cl, ok := c.Clusters[m.Cluster]
		if !ok || cl.TLS == nil || cl.TLS.SNI == "" || cl.TLS.TrustedCAFile == "" {
			t.Errorf("merchant %s: cluster %q missing or without upstream TLS: %+v", name, m.Cluster, cl)
		}
	}
	if cl, ok := c.Clusters[cfg.Backend.Cluster]; !ok || cl.TLS == nil {
		t.Errorf("backend cluster %q missing or without upstream TLS", cfg.Backend.Cluster)
	}
	if c.Admin.Port == 0 || c.Listener.Port == 0 {
		t.Errorf("admin %+v, listener %+v", c.Admin, c.Listener)
	}
	transfer := false
	for _, r := range c.Routes {
		if r.Regex != nil && r.Regex.MatchString("/api/v1/domains/staging.luma.gift/session/transfer") {
			transfer = true
		}
	}
	if !transfer {
		t.Error("no transfer route")
	}
}

func TestInvalidConfigsAreRefused(t *testing.T) {
	good, err := os.ReadFile(repoEnvoyYAML)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, from, to, want string }{
		{"unknown field", "per_connection_buffer_limit_bytes:", "per_connection_buffer_limit_bites:", "unknown field"},
		{"both fail_open and failure_policy", "failure_policy: FAIL_CLOSED", "failure_policy: FAIL_CLOSED\n                fail_open: true", "both fail_open and failure_policy"},
		{"empty cluster name", "- name: firmly_api", "- name: \"\"", "Name"},
		{"bad wasm typed config", "envoy.extensions.filters.http.wasm.v3.Wasm", "envoy.extensions.filters.http.wasm.v3.Nope", "Nope"},
		{"port out of range", "port_value: 10000", "port_value: 70000", "PortValue"},
		{"FilterConfig without config", "                    config: {}\n", "", "needs config: {}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := strings.Replace(string(good), c.from, c.to, 1)
			if bad == string(good) {
				t.Fatalf("%q not found in envoy.yaml", c.from)
			}
			_, err := Parse([]byte(bad))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v does not mention %q", err, c.want)
			}
		})
	}
}

// The wasm filter is route-scoped: disabled in http_filters, enabled on
// every route that matches a transfer path, and never on the catch-all,
// so other traffic never enters the VM.
func TestWasmFilterIsScopedToTheTransferRoutes(t *testing.T) {
	c, err := Load(repoEnvoyYAML)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Wasm.Disabled {
		t.Fatal("http_filters: the wasm filter is not disabled by default")
	}
	transferPaths := []string{
		"/api/v1/domains/staging.luma.gift/session/transfer",
		"/api/v2/domains/staging.luma.gift/session/transfer",
		"/api/v2/domains/staging.luma.gift/session/transfer/",
	}
	enabled := func(r Route) bool { return r.WasmFilter != nil && !r.WasmFilter.Disabled }
	matches := func(r Route, p string) bool {
		if r.Regex != nil {
			loc := r.Regex.FindStringIndex(p)
			return loc != nil && loc[0] == 0 && loc[1] == len(p)
		}
		return strings.HasPrefix(p, r.Prefix)
	}
	for _, p := range transferPaths {
		for _, r := range c.Routes {
			if matches(r, p) {
				if !enabled(r) {
					t.Errorf("%s: its route does not enable the wasm filter", p)
				}
				break
			}
		}
	}
	for _, r := range c.Routes {
		if r.Prefix == "/" && r.Regex == nil && enabled(r) {
			t.Error("the catch-all route enables the wasm filter")
		}
		if enabled(r) && !matches(r, transferPaths[0]) && !matches(r, transferPaths[1]) {
			t.Errorf("route %+v enables the filter but serves no transfer path", r)
		}
	}
}

// stats_tags extract both tags of SPEC §2.9, and the access log prints the
// filter's outcome, merchant and merchant status with the response.
func TestStatsTagsAndAccessLog(t *testing.T) {
	c, err := Load(repoEnvoyYAML)
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	name := "wasmcustom.session_transfer_outcome=.=transferred;.;session_transfer_merchant=.=staging.luma.gift;.;session_transfer.requests"
	for _, st := range c.StatsTags {
		if m := st.Regex.FindStringSubmatch(name); len(m) == 3 {
			tags[st.Name] = m[2]
		}
	}
	if tags["merchant"] != "staging.luma.gift" || tags["outcome"] != "transferred" {
		t.Errorf("got tags %v, want merchant and outcome extracted", tags)
	}
	if len(c.AccessLogs) != 1 || c.AccessLogs[0].JSON == nil {
		t.Fatalf("got access logs %+v, want one JSON access log", c.AccessLogs)
	}
	f := c.AccessLogs[0].JSON
	for _, want := range []string{
		"%FILTER_STATE(wasm.session_transfer.outcome:PLAIN)%", "%FILTER_STATE(wasm.session_transfer.merchant:PLAIN)%",
		"%FILTER_STATE(wasm.session_transfer.merchant_status:PLAIN)%", "%RESPONSE_CODE%", "%RESPONSE_CODE_DETAILS%",
		"%REQ(X-REQUEST-ID)%", "%DURATION%",
	} {
		found := false
		for _, v := range f {
			found = found || v == want
		}
		if !found {
			t.Errorf("the access log lacks %s", want)
		}
	}
}

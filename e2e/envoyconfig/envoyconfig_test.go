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

package envoyconfig

import (
	"os"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// envoy.yaml carries Envoy's edge best practices (docs/security.md says
// which setting closes which hole), and so does envoy-delegated.yaml, whose
// JWKS cluster serves jwt_authn instead of the filter.
func TestRepositoryEnvoyYAMLIsHardened(t *testing.T) {
	for _, file := range []string{repoEnvoyYAML, repoDelegatedYAML} {
		t.Run(file, func(t *testing.T) { checkHardened(t, file) })
	}
}

func checkHardened(t *testing.T, file string) {
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Address != "127.0.0.1" {
		t.Errorf("admin listens on %s, want 127.0.0.1", c.Admin.Address)
	}
	h := c.HCM
	if !h.NormalizePath || !h.MergeSlashes || h.EscapedSlashes != hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT {
		t.Errorf("path settings %+v: want normalize_path, merge_slashes and UNESCAPE_AND_REDIRECT", h)
	}
	if h.HeadersWithUnderscores != corev3.HttpProtocolOptions_REJECT_REQUEST {
		t.Errorf("headers_with_underscores_action %v, want REJECT_REQUEST", h.HeadersWithUnderscores)
	}
	if !h.UseRemoteAddress {
		t.Error("use_remote_address is off: an edge Envoy would trust the client's x-forwarded-for")
	}
	pc, err := c.Wasm.ParsePluginConfig()
	if err != nil {
		t.Fatal(err)
	}
	// The longest a transfer stream stays silent is both callouts at their
	// timeouts; stream_idle_timeout must not cut it short.
	var longestMerchant time.Duration
	for _, m := range pc.Merchants {
		longestMerchant = max(longestMerchant, time.Duration(m.TimeoutMs)*time.Millisecond)
	}
	callouts := longestMerchant + time.Duration(pc.Backend.TimeoutMs)*time.Millisecond
	if h.RequestHeadersTimeout <= 0 || h.RequestTimeout <= 0 || h.IdleTimeout <= 0 || h.StreamIdleTimeout <= callouts {
		t.Errorf("timeouts %+v: want all set, stream_idle_timeout above the callouts' %v", h, callouts)
	}
	transfer := false
	for _, r := range c.Routes {
		if r.WasmFilter != nil && r.Regex != nil {
			for _, p := range []string{"/api/v2/domains/x.com/session/transfer", "/API/V1/DOMAINS/x.com/Session/Transfer/"} {
				if !r.Regex.MatchString(p) {
					t.Errorf("the transfer route does not match %s", p)
				}
			}
			transfer = true
		}
	}
	if !transfer {
		t.Error("no transfer route")
	}
	callout := map[string]bool{pc.Backend.Cluster: true}
	for _, m := range pc.Merchants {
		callout[m.Cluster] = true
	}
	if rj := pc.Auth.RemoteJWKS; rj != nil {
		callout[rj.Cluster] = true
	}
	for _, p := range c.JwtAuthn.GetProviders() {
		if cl := p.GetRemoteJwks().GetHttpUri().GetCluster(); cl != "" {
			callout[cl] = true
		}
	}
	for name := range callout {
		cl := c.Clusters[name]
		cb := cl.CircuitBreaker
		switch {
		case cb == nil:
			t.Errorf("callout cluster %s has no circuit breaker", name)
		case cb.MaxRequests == 0 || cb.MaxPendingRequests == 0 || cb.MaxConnections < cb.MaxRequests:
			// HTTP/1 upstreams carry one request per connection.
			t.Errorf("callout cluster %s: thresholds %+v", name, *cb)
		}
		if od := cl.OutlierDetection; od == nil || od.GetConsecutive_5Xx().GetValue() == 0 || od.GetBaseEjectionTime() == nil {
			t.Errorf("callout cluster %s: outlier detection %v", name, od)
		}
	}
}

func TestHardeningMistakesAreRefused(t *testing.T) {
	good, err := os.ReadFile(repoEnvoyYAML)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, from, to, want string }{
		{"case_sensitive on a regex route", "                  safe_regex: {regex: \"(?i)", "                  case_sensitive: false\n                  safe_regex: {regex: \"(?i)", "case_sensitive is ignored for safe_regex"},
		{"unknown escaped-slash action", "path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT", "path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECTS", "UNESCAPE_AND_REDIRECTS"},
		{"unknown underscore action", "headers_with_underscores_action: REJECT_REQUEST", "headers_with_underscores_action: REFUSE", "REFUSE"},
		{"circuit breaker field misspelt", "max_pending_requests: 64", "max_pending_request: 64", "max_pending_request"},
		{"outlier detection percent over 100", "max_ejection_percent: 50", "max_ejection_percent: 150", "MaxEjectionPercent"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := strings.Replace(string(good), c.from, c.to, 1)
			if bad == string(good) {
				t.Fatalf("%q not found in envoy.yaml", c.from)
			}
			_, err := Parse([]byte(bad))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

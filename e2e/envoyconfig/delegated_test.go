package envoyconfig

import (
	"os"
	"strings"
	"testing"
)

const repoDelegatedYAML = "../../envoy-delegated.yaml"

// envoy-delegated.yaml passes Envoy's schema validation; jwt_authn sits
// before the wasm filter, requires the device token on the transfer routes
// only, puts the payload where the plugin configuration reads it, and takes
// its keys from a cluster of the file; the plugin has no key of its own.
func TestRepositoryDelegatedYAML(t *testing.T) {
	c, err := Load(repoDelegatedYAML)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := c.Wasm.ParsePluginConfig()
	if err != nil {
		t.Fatalf("the embedded plugin configuration is refused: %v", err)
	}
	vp := cfg.Auth.VerifiedPayload
	if vp == nil || cfg.Auth.RemoteJWKS != nil || cfg.Auth.HS256Secret != nil {
		t.Fatalf("want auth.verified_payload and no key of the filter's own: %+v", cfg.Auth)
	}
	ja := c.JwtAuthn
	if ja == nil {
		t.Fatal("no jwt_authn filter")
	}
	if vp.Namespace != jwtAuthnFilterName {
		t.Errorf("verified_payload.namespace %q, want jwt_authn's %q", vp.Namespace, jwtAuthnFilterName)
	}
	for name, p := range ja.GetProviders() {
		if p.GetPayloadInMetadata() != vp.Key {
			t.Errorf("provider %s: payload_in_metadata %q, the filter reads %q", name, p.GetPayloadInMetadata(), vp.Key)
		}
		if p.GetFailedStatusInMetadata() != vp.FailedStatusKey {
			t.Errorf("provider %s: failed_status_in_metadata %q, the filter reads %q", name, p.GetFailedStatusInMetadata(), vp.FailedStatusKey)
		}
		if p.GetForward() {
			t.Errorf("provider %s forwards the token upstream", name)
		}
		if cl := p.GetRemoteJwks().GetHttpUri().GetCluster(); cl != "" {
			if c.Clusters[cl].TLS == nil {
				t.Errorf("provider %s: JWKS cluster %q missing or without TLS", name, cl)
			}
		}
	}
	for _, r := range c.Routes {
		isTransfer := r.Regex != nil && r.Regex.MatchString("/api/v2/domains/staging.luma.gift/session/transfer")
		enabled := r.WasmFilter != nil && !r.WasmFilter.Disabled
		switch {
		case isTransfer && (r.JwtRequirement == "" || ja.GetRequirementMap()[r.JwtRequirement] == nil):
			t.Errorf("transfer route without a jwt_authn requirement: %+v", r)
		case isTransfer && ja.GetRequirementMap()[r.JwtRequirement].GetProviderName() == "":
			t.Errorf("transfer route's requirement lets a missing or failed token through")
		case enabled && r.JwtRequirement == "":
			t.Errorf("a route enables the filter without jwt_authn: %+v", r)
		}
	}
}

func TestJwtAuthnAfterWasmIsRefused(t *testing.T) {
	raw, err := os.ReadFile(repoDelegatedYAML)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	start := strings.Index(s, "          - name: envoy.filters.http.jwt_authn")
	end := strings.Index(s, "          - name: envoy.filters.http.wasm")
	router := strings.Index(s, "          - name: envoy.filters.http.router")
	if start < 0 || end < start || router < end {
		t.Fatal("envoy-delegated.yaml changed shape; update this test")
	}
	swapped := s[:start] + s[end:router] + s[start:end] + s[router:]
	if _, err := Parse([]byte(swapped)); err == nil || !strings.Contains(err.Error(), "before") {
		t.Fatalf("jwt_authn after the wasm filter: got %v", err)
	}
}

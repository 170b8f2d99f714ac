package kittest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	extensions "istio.io/api/extensions/v1alpha1"
	security "istio.io/api/security/v1beta1"

	"github.com/firmly/session-transfer-filter/internal/config"
)

// The Istio kit's delegated variant (e2e/istio/delegated): a
// RequestAuthentication that reads the token where clients send it, and
// the WasmPlugin after it (phase AUTHZ) reading the payload where Istio
// 1.21+ keeps it, with no key of its own. Checked against istio.io/api
// like the rest of the kit.
func TestIstioDelegatedKit(t *testing.T) {
	files, err := filepath.Glob("istio/delegated/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in e2e/istio/delegated: %v", err)
	}
	var wp *extensions.WasmPlugin
	var ra *security.RequestAuthentication
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := splitYAML(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, js := range docs {
			o, err := parseIstioObject(js)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			switch m := o.msg.(type) {
			case *extensions.WasmPlugin:
				wp = m
			case *security.RequestAuthentication:
				ra = m
			}
		}
	}
	if wp == nil || ra == nil {
		t.Fatal("the delegated kit needs a WasmPlugin and a RequestAuthentication")
	}
	if wp.GetPhase() != extensions.PluginPhase_AUTHZ {
		t.Errorf("phase %v, want AUTHZ: after Istio's jwt_authn", wp.GetPhase())
	}
	if wp.GetFailStrategy() != extensions.FailStrategy_FAIL_CLOSE {
		t.Errorf("failStrategy %v, want FAIL_CLOSE", wp.GetFailStrategy())
	}
	for k, v := range ra.GetSelector().GetMatchLabels() {
		if wp.GetSelector().GetMatchLabels()[k] != v {
			t.Errorf("RequestAuthentication selects %s=%s, the WasmPlugin does not", k, v)
		}
	}
	pc, err := wp.GetPluginConfig().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(pc, func(string) (string, bool) { return "host-provided-secret-0123456789abcdef0123456789", true })
	if err != nil {
		t.Fatalf("pluginConfig refused by the plugin: %v", err)
	}
	vp := cfg.Auth.VerifiedPayload
	if vp == nil || vp.Namespace != "envoy.filters.http.jwt_authn" || vp.Key != "payload" {
		t.Errorf("auth.verified_payload %+v, want jwt_authn's namespace and Istio's key payload", vp)
	}
	if len(ra.GetJwtRules()) == 0 {
		t.Fatal("no jwtRules")
	}
	for i, r := range ra.GetJwtRules() {
		if r.GetIssuer() == "" || !strings.HasPrefix(r.GetJwksUri(), "https://") {
			t.Errorf("jwtRules[%d]: issuer %q, jwksUri %q: want both, the keys over https", i, r.GetIssuer(), r.GetJwksUri())
		}
		h := r.GetFromHeaders()
		if len(h) != 1 || h[0].GetName() != "x-firmly-authorization" || h[0].GetPrefix() != "Bearer " {
			t.Errorf("jwtRules[%d].fromHeaders %v, want x-firmly-authorization with prefix \"Bearer \"", i, h)
		}
		if r.GetForwardOriginalToken() {
			t.Errorf("jwtRules[%d] forwards the token upstream", i)
		}
	}
}

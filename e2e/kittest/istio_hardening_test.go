package kittest

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	"sigs.k8s.io/yaml"
)

// The Istio kit carries envoy.yaml's hardening where Istio can express it:
// a circuit breaker and outlier detection on every callout destination,
// and the mesh settings it needs, each checked strictly against istio.io/api.

func TestIstioCalloutDestinationsHaveCircuitBreakers(t *testing.T) {
	k := loadIstioKit(t)
	if len(k.rules) == 0 {
		t.Fatal("no DestinationRule")
	}
	for _, dr := range k.rules {
		ports := dr.GetTrafficPolicy().GetPortLevelSettings()
		if len(ports) == 0 {
			t.Errorf("%s: no port-level traffic policy", dr.GetHost())
		}
		for _, p := range ports {
			cp, od := p.GetConnectionPool(), p.GetOutlierDetection()
			maxConns, pending, maxReqs := cp.GetTcp().GetMaxConnections(), cp.GetHttp().GetHttp1MaxPendingRequests(), cp.GetHttp().GetHttp2MaxRequests()
			// HTTP/1 to the callout: one request per connection.
			if maxConns <= 0 || pending <= 0 || maxReqs <= 0 || maxReqs > maxConns {
				t.Errorf("%s port %d: connectionPool %v", dr.GetHost(), p.GetPort().GetNumber(), cp)
			}
			if od.GetConsecutive_5XxErrors().GetValue() == 0 || od.GetBaseEjectionTime() == nil || od.GetInterval() == nil {
				t.Errorf("%s port %d: outlierDetection %v", dr.GetHost(), p.GetPort().GetNumber(), od)
			}
			// Envoy's own panic threshold, not Istio's 0 that would eject a
			// merchant's only endpoint.
			if od.GetMinHealthPercent() != 50 {
				t.Errorf("%s port %d: minHealthPercent %d, want 50", dr.GetHost(), p.GetPort().GetNumber(), od.GetMinHealthPercent())
			}
		}
	}
}

func TestIstioMeshConfigNormalizesPaths(t *testing.T) {
	raw, err := os.ReadFile("istio/mesh-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mc := &meshv1alpha1.MeshConfig{}
	strictProto(t, "mesh-config.yaml", raw, mc)
	switch n := mc.GetPathNormalization().GetNormalization(); n {
	case meshv1alpha1.MeshConfig_ProxyPathNormalization_MERGE_SLASHES, meshv1alpha1.MeshConfig_ProxyPathNormalization_DECODE_AND_MERGE_SLASHES:
	default:
		t.Errorf("pathNormalization %v: want MERGE_SLASHES or DECODE_AND_MERGE_SLASHES", n)
	}
}

// The README's proxy config for underscore headers is a valid ProxyConfig
// that refuses them.
func TestIstioReadmeUnderscoreSettingIsAProxyConfig(t *testing.T) {
	readme, err := os.ReadFile("istio/README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if strings.Contains(m[1], "httpHeadersWithUnderscoresAction") {
			block = m[1]
		}
	}
	if block == "" {
		t.Fatal("the README shows no httpHeadersWithUnderscoresAction setting")
	}
	pc := &meshv1alpha1.ProxyConfig{}
	strictProto(t, "README underscore setting", []byte(block), pc)
	if got := pc.GetConnectionSettings().GetHttpHeadersWithUnderscoresAction(); got != meshv1alpha1.ProxyConfig_ConnectionSettings_HEADERS_WITH_UNDERSCORES_REJECT_REQUEST {
		t.Errorf("httpHeadersWithUnderscoresAction %v, want HEADERS_WITH_UNDERSCORES_REJECT_REQUEST", got)
	}
}

// strictProto parses YAML into msg with the kit's strict field check.
func strictProto(t *testing.T, what string, raw []byte, msg proto.Message) {
	t.Helper()
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var v any
	json.Unmarshal(js, &v)
	if errs := strictFields(what, v, msg.ProtoReflect().Descriptor()); len(errs) > 0 {
		t.Fatal(strings.Join(errs, "; "))
	}
	if err := protojson.Unmarshal(js, msg); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

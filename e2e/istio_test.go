package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	extensions "istio.io/api/extensions/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/firmly/session-transfer-filter/internal/config"
)

// The Istio example parses as istio.io/api's WasmPlugin and its
// pluginConfig passes the plugin's own validation.
func TestIstioWasmPluginExample(t *testing.T) {
	raw, err := os.ReadFile("istio/wasmplugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		APIVersion string          `json:"apiVersion"`
		Kind       string          `json:"kind"`
		Spec       json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.APIVersion != "extensions.istio.io/v1alpha1" || doc.Kind != "WasmPlugin" {
		t.Errorf("%s %s", doc.APIVersion, doc.Kind)
	}
	spec := &extensions.WasmPlugin{}
	if err := protojson.Unmarshal(doc.Spec, spec); err != nil {
		t.Fatalf("not a WasmPlugin spec: %v", err)
	}
	if !strings.HasPrefix(spec.GetUrl(), "oci://") {
		t.Errorf("url %q is not an oci:// image", spec.GetUrl())
	}
	if spec.GetPhase() == extensions.PluginPhase_UNSPECIFIED_PHASE {
		t.Error("no phase")
	}
	if spec.GetFailStrategy() != extensions.FailStrategy_FAIL_CLOSE {
		t.Errorf("failStrategy %v, want FAIL_CLOSE", spec.GetFailStrategy())
	}
	if len(spec.GetMatch()) == 0 || len(spec.GetMatch()[0].GetPorts()) == 0 {
		t.Error("no match")
	}
	env := map[string]string{}
	for _, e := range spec.GetVmConfig().GetEnv() {
		v := e.GetValue()
		if e.GetValueFrom() == extensions.EnvValueSource_HOST {
			v = "host-provided-secret-0123456789abcdef0123456789" // supplied by the proxy's environment
		}
		env[e.GetName()] = v
	}
	pc, err := spec.GetPluginConfig().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(pc, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("pluginConfig refused: %v", err)
	}
	if cfg.PauseOnHeaders {
		t.Error("Istio cannot set allow_on_headers_stop_iteration: the example must use the default header mode")
	}
	for _, m := range cfg.Merchants {
		if !strings.HasPrefix(m.Cluster, "outbound|") {
			t.Errorf("merchant cluster %q is not an Istio outbound cluster name", m.Cluster)
		}
	}
	df, _ := os.ReadFile("istio/Dockerfile")
	if !strings.Contains(string(df), "FROM scratch") || !strings.Contains(string(df), "COPY plugin.wasm") {
		t.Errorf("istio/Dockerfile:\n%s", df)
	}
}

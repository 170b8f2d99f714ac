package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/firmly/session-transfer-filter/e2e/envoyconfig"
	"github.com/firmly/session-transfer-filter/internal/config"
)

type composeFile struct {
	Services map[string]struct {
		Image   string   `json:"image"`
		Command []string `json:"command"`
		Volumes []string `json:"volumes"`
		Ports   []string `json:"ports"`
		Build   *struct {
			Context    string `json:"context"`
			Dockerfile string `json:"dockerfile"`
		} `json:"build"`
		Healthcheck struct {
			Test []string `json:"test"`
		} `json:"healthcheck"`
	} `json:"services"`
}

func flagValue(cmd []string, name string) string {
	for i, a := range cmd {
		if a == name && i+1 < len(cmd) {
			return cmd[i+1]
		}
	}
	return ""
}

// docker-compose.yaml cannot run here (no Docker engine), so this keeps it
// consistent with envoy.yaml and the repository.
func TestDockerComposeAgreesWithEnvoyYAML(t *testing.T) {
	raw, err := os.ReadFile("docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatal(err)
	}
	ec, err := envoyconfig.Load("../envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	envoy, ok := cf.Services["envoy"]
	if !ok {
		t.Fatal("no envoy service")
	}
	// A pinned Envoy image, 1.35 or newer (allow_on_headers_stop_iteration).
	m := regexp.MustCompile(`envoyproxy/envoy:v(\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(envoy.Image)
	if m == nil {
		t.Fatalf("envoy image %q is not a pinned envoyproxy/envoy:vX.Y.Z", envoy.Image)
	}
	if minor, _ := strconv.Atoi(m[2]); m[1] != "1" || minor < 35 {
		t.Errorf("envoy image %s: want 1.35 or newer", envoy.Image)
	}
	if flagValue(envoy.Command, "-c") != "/etc/envoy/envoy.yaml" {
		t.Errorf("envoy does not run /etc/envoy/envoy.yaml: %v", envoy.Command)
	}
	// Mounts: each source exists (plugin.wasm is build.sh's output), and
	// every file envoy.yaml reads is mounted.
	mounts := map[string]string{}
	for _, v := range envoy.Volumes {
		parts := strings.Split(v, ":")
		mounts[parts[1]] = parts[0]
		src := filepath.Clean(parts[0])
		if src == filepath.Clean("../plugin.wasm") {
			if b, _ := os.ReadFile("../build.sh"); !strings.Contains(string(b), "-o plugin.wasm") {
				t.Error("build.sh does not produce plugin.wasm")
			}
			continue
		}
		if _, err := os.Stat(src); err != nil {
			t.Errorf("mount source %s: %v", src, err)
		}
	}
	if mounts["/etc/envoy/envoy.yaml"] != "../envoy.yaml" || mounts[ec.Wasm.CodeFile] != "../plugin.wasm" {
		t.Errorf("mounts %v: want envoy.yaml and plugin.wasm at %s", mounts, ec.Wasm.CodeFile)
	}
	mounted := func(path string) string {
		for target, src := range mounts {
			if rest, ok := strings.CutPrefix(path, target+"/"); ok {
				return filepath.Join(src, rest)
			}
		}
		return ""
	}
	// Ports: the listener and admin ports are published.
	for _, p := range []uint32{ec.Listener.Port, ec.Admin.Port} {
		want := strconv.Itoa(int(p))
		if !slices.ContainsFunc(envoy.Ports, func(s string) bool { return strings.HasSuffix(s, ":"+want) }) {
			t.Errorf("envoy does not publish port %s: %v", want, envoy.Ports)
		}
	}
	// Clusters: each host is a service listening on the cluster's port,
	// with TLS exactly when the cluster uses it, and a trusted CA that is
	// mounted and signs the service's certificate.
	pc, err := ec.Wasm.ParsePluginConfig()
	if err != nil {
		t.Fatal(err)
	}
	for name, cl := range ec.Clusters {
		svc, ok := cf.Services[cl.Address.Address]
		if !ok {
			t.Errorf("cluster %s: no service named %q", name, cl.Address.Address)
			continue
		}
		if got := flagValue(svc.Command, "-addr"); got != ":"+strconv.Itoa(int(cl.Address.Port)) {
			t.Errorf("cluster %s: port %d, service listens on %q", name, cl.Address.Port, got)
		}
		if (cl.TLS != nil) != (flagValue(svc.Command, "-cert") != "") {
			t.Errorf("cluster %s: TLS %v, service cert %q", name, cl.TLS != nil, flagValue(svc.Command, "-cert"))
		}
		if cl.TLS != nil {
			if src := mounted(cl.TLS.TrustedCAFile); src == "" {
				t.Errorf("cluster %s: trusted CA %s is not mounted", name, cl.TLS.TrustedCAFile)
			} else if _, err := os.Stat(src); err != nil {
				t.Errorf("cluster %s: %v", name, err)
			}
		}
		if svc.Build == nil || svc.Build.Dockerfile == "" {
			t.Errorf("service %s has no build", cl.Address.Address)
		} else if _, err := os.Stat(filepath.Join(svc.Build.Context, svc.Build.Dockerfile)); err != nil {
			t.Errorf("service %s: %v", cl.Address.Address, err)
		}
		role := flagValue(svc.Command, "-role")
		switch {
		case name == pc.Backend.Cluster:
			if role != "backend" || flagValue(svc.Command, "-prefix") != pc.Backend.PathPrefix {
				t.Errorf("backend cluster %s runs %v", name, svc.Command)
			}
		case slices.ContainsFunc(mapValues(pc.Merchants), func(m *config.Merchant) bool { return m.Cluster == name }):
			if role != "merchant" || flagValue(svc.Command, "-export-path") != pc.Merchants["staging.luma.gift"].ExportPath {
				t.Errorf("merchant cluster %s runs %v", name, svc.Command)
			}
		case pc.Auth.RemoteJWKS != nil && name == pc.Auth.RemoteJWKS.Cluster:
			if role != "issuer" || flagValue(svc.Command, "-signing-key") != "/certs/device-token-key.jwk" {
				t.Errorf("JWKS cluster %s runs %v", name, svc.Command)
			}
		}
		if len(svc.Healthcheck.Test) == 0 {
			t.Errorf("service %s has no health check for --wait", cl.Address.Address)
		}
	}
	// Files the services' image copies exist.
	df, _ := os.ReadFile("Dockerfile.services")
	for _, want := range []string{"COPY e2e/fixtures /fixtures", "COPY e2e/dev /certs", "./e2e/cmd/refservices"} {
		if !strings.Contains(string(df), want) {
			t.Errorf("Dockerfile.services lacks %q", want)
		}
	}
	for _, f := range []string{"fixtures/luma.json", "dev/server.pem", "dev/server-key.pem", "dev/ca.pem"} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
}

func mapValues[K comparable, V any](m map[K]V) []V {
	var out []V
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

package kittest

import (
	"errors"
	"os"
	"os/exec"
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
		Image      string   `json:"image"`
		Entrypoint []string `json:"entrypoint"`
		Command    []string `json:"command"`
		Volumes    []string `json:"volumes"`
		Ports      []string `json:"ports"`
		Build      *struct {
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
	// The Envoy binary is the entrypoint, so ENVOY_IMAGE=istio/proxyv2 (whose
	// own entrypoint is pilot-agent) runs the same command.
	if !slices.Equal(envoy.Entrypoint, []string{"/usr/local/bin/envoy"}) || (len(envoy.Command) > 0 && envoy.Command[0] == "envoy") {
		t.Errorf("envoy entrypoint %v command %v: want entrypoint [/usr/local/bin/envoy] and flags only", envoy.Entrypoint, envoy.Command)
	}
	if !strings.Contains(envoy.Image, "${ENVOY_IMAGE:-") {
		t.Errorf("envoy image %q cannot be swapped with ENVOY_IMAGE", envoy.Image)
	}
	// Envoy's images have no shell or HTTP client: a health check there
	// could never pass (compose-check.sh polls the admin /ready instead).
	if len(envoy.Healthcheck.Test) > 0 {
		t.Errorf("envoy health check %v needs tools the Envoy image lacks", envoy.Healthcheck.Test)
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

// The services image copies go.mod, go.sum and exactly the repository
// packages refservices is built from, so it builds from a small context and
// a change to the filter does not rebuild it.
func TestServicesImageCopiesOnlyWhatRefservicesImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./cmd/refservices").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/firmly/session-transfer-filter/"
	var want []string
	for _, p := range strings.Fields(string(out)) {
		if rest, ok := strings.CutPrefix(p, mod); ok {
			want = append(want, rest)
		}
	}
	df, err := os.ReadFile("Dockerfile.services")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	stages := strings.Split(string(df), "\nFROM ")
	if len(stages) < 3 {
		t.Fatalf("Dockerfile.services: want a build stage and a runtime stage")
	}
	build := stages[1]
	for _, m := range regexp.MustCompile(`(?m)^COPY (\S+) (\S+)$`).FindAllStringSubmatch(build, -1) {
		if m[1] != m[2] {
			t.Errorf("COPY %s %s: copy each package to its own path", m[1], m[2])
		}
		got = append(got, m[1])
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("Dockerfile.services build stage copies %v, want exactly %v (the repository packages of go list -deps ./e2e/cmd/refservices)", got, want)
	}
	if !regexp.MustCompile(`(?m)^COPY go.mod go.sum \./$`).MatchString(build) {
		t.Error("Dockerfile.services does not copy go.mod and go.sum")
	}
	if strings.Contains(build, "COPY . .") {
		t.Error("Dockerfile.services copies the whole repository")
	}
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(regexp.MustCompile(`(?m)#.*$`).ReplaceAllString(string(ignore), "")))
	if !slices.Contains(lines, ".git") {
		t.Errorf(".dockerignore does not leave out .git: %v", lines)
	}
	for _, needed := range []string{"plugin.wasm", "e2e/dev", "e2e/fixtures", "go.mod", "go.sum"} {
		for _, l := range lines {
			if ok, _ := filepath.Match(l, needed); ok || l == needed {
				t.Errorf(".dockerignore line %q leaves out %s, which an image copies", l, needed)
			}
		}
	}
}

// compose-check.sh needs Compose v2 and says so, instead of the plain
// Docker CLI's "unknown shorthand flag: 'f' in -f".
func TestComposeCheckRequiresComposeV2(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	for _, script := range []string{"compose-check.sh", "../build.sh"} {
		if out, err := exec.Command(bash, "-n", script).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", script, err, out)
		}
	}
	// A docker without the compose plugin, as the plain CLI behaves.
	fake := t.TempDir()
	script := "#!/bin/sh\necho \"unknown shorthand flag: 'f' in -f\" >&2\nexit 125\n"
	if err := os.WriteFile(filepath.Join(fake, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Run("a docker without Compose v2 is named as the problem", func(t *testing.T) {
		cmd := exec.Command(bash, "compose-check.sh")
		cmd.Env = append(os.Environ(), "PATH="+fake+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("got %v, want exit status 2\n%s", err, out)
		}
		if !strings.Contains(string(out), "Compose v2") || strings.Contains(string(out), "unknown shorthand") {
			t.Errorf("got output %q, want a message naming Compose v2 and nothing from docker", out)
		}
	})
	t.Run("no docker at all is named as the problem", func(t *testing.T) {
		empty := t.TempDir()
		for _, tool := range []string{"dirname"} {
			p, err := exec.LookPath(tool)
			if err != nil {
				t.Skip(err)
			}
			os.Symlink(p, filepath.Join(empty, tool))
		}
		cmd := exec.Command(bash, "compose-check.sh")
		cmd.Env = append(os.Environ(), "PATH="+empty)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "docker is not installed") {
			t.Fatalf("got %v %q, want exit status 2 and \"docker is not installed\"", err, out)
		}
	})
}

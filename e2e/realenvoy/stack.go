package realenvoy

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/localstack"
	"github.com/firmly/session-transfer-filter/internal/metrics"
)

// Setup describes a real-Envoy stack: the reference services as the local
// run starts them, and Envoy from a repository configuration.
type Setup struct {
	RepoRoot string
	Version  string
	// Wasm is plugin.wasm (the configuration's /etc/envoy/plugin.wasm).
	Wasm []byte
	// Config is the configuration file, relative to RepoRoot (default
	// envoy.yaml).
	Config string
	// Edit makes a variant of the configuration after the substitution;
	// nil runs the configuration as shipped.
	Edit func(Doc) error
	// Concurrency is Envoy's worker count (default 2).
	Concurrency int
	// ComponentLogLevels is Envoy's --component-log-level (default wasm:debug).
	ComponentLogLevels string
}

// Stack is a running real-Envoy stack.
type Stack struct {
	*Envoy
	Services *localstack.Stack
	// ProxyURL is the first listener's http://127.0.0.1:<port>.
	ProxyURL string
}

// Substitutions are the only differences between a shipped configuration and
// the one a test runs: cluster endpoints become the services' loopback
// addresses, /etc/envoy/certs/ is e2e/dev/, /etc/envoy/plugin.wasm is wasmPath.
func Substitutions(repoRoot, wasmPath string, clusters map[string]string) Substitution {
	return Substitution{
		Clusters: clusters,
		Files: map[string]string{
			"/etc/envoy/certs/":      filepath.Join(repoRoot, "e2e", "dev") + "/",
			"/etc/envoy/plugin.wasm": wasmPath,
		},
	}
}

// StartStack starts the services and Envoy for a test (the test is skipped,
// or fails under CI=true, when the version is not installed), and waits until
// every worker has loaded the issuer's keys, as the local run does.
func StartStack(t testing.TB, s Setup) *Stack {
	t.Helper()
	bin := Require(t, s.RepoRoot, s.Version)
	if s.Config == "" {
		s.Config = "envoy.yaml"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	services, err := localstack.Start(ctx, localstack.Options{RepoRoot: s.RepoRoot, Ephemeral: true, ServicesOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(services.Close)
	dir := t.TempDir()
	wasmPath := filepath.Join(dir, "plugin.wasm")
	if err := os.WriteFile(wasmPath, s.Wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(s.RepoRoot, s.Config))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ParseDoc(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := Rewrite(doc, Substitutions(s.RepoRoot, wasmPath, services.ClusterAddrs)); err != nil {
		t.Fatal(err)
	}
	if s.Edit != nil {
		if err := s.Edit(doc); err != nil {
			t.Fatal(err)
		}
	}
	e := Start(t, Options{Binary: bin, Version: s.Version, Config: doc, Concurrency: s.Concurrency, ComponentLogLevels: s.ComponentLogLevels})
	st := &Stack{Envoy: e, Services: services}
	if sr, _ := doc["static_resources"].(map[string]any); sr != nil {
		if ls := list(sr["listeners"]); len(ls) > 0 {
			name, _ := ls[0].(map[string]any)["name"].(string)
			st.ProxyURL = e.Listeners[name]
		}
	}
	if services.Issuer != nil {
		// Counters sum over the process's VMs: each worker's and the main
		// thread's (which ticks and fetches too) fetch once at start.
		e.WaitCounter(t, CustomStat+metrics.JWKSFetchSuccess, uint64(e.Concurrency)+1, 60*time.Second)
	}
	return st
}

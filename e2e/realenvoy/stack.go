package realenvoy

import (
	"context"
	"fmt"
	"io"
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
	// Binary is the envoy executable (default: the installed Version).
	Binary string
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
	// LocalRun keeps envoy.yaml's ports for the services, the listener and
	// the admin (all on 127.0.0.1), as ./build.sh run does; tests use free ports.
	LocalRun bool
	// DataDir keeps the session backend's store (default a temporary folder).
	DataDir string
	// LogOut and AccessLogOut also receive Envoy's log and access log.
	LogOut, AccessLogOut io.Writer
}

// Stack is a running real-Envoy stack.
type Stack struct {
	*Envoy
	Services *localstack.Stack
	// ProxyURL is the first listener's http://127.0.0.1:<port>.
	ProxyURL string
	dir      string
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
// every worker has loaded the issuer's keys, as the local run does. Both stop
// when the test ends; the Envoy log is printed when it failed.
func StartStack(t testing.TB, s Setup) *Stack {
	t.Helper()
	s.Binary = Require(t, s.RepoRoot, s.Version)
	st, err := Launch(context.Background(), s)
	if st != nil && st.Envoy != nil {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("Envoy %s log (pid %d):\n%s\naccess log:\n%s", st.Version, st.PID, tail(st.Log(), 200), st.accessLog.String())
			}
		})
	}
	if st != nil {
		t.Cleanup(st.Close)
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Launch starts the services and Envoy and waits (bounded) until every
// worker has loaded the issuer's keys; the caller closes the stack. On an
// error after Envoy started, the returned stack holds its log.
func Launch(ctx context.Context, s Setup) (_ *Stack, err error) {
	if s.Config == "" {
		s.Config = "envoy.yaml"
	}
	if s.Binary == "" {
		if s.Binary, err = Binary(s.RepoRoot, s.Version); err != nil {
			return nil, err
		}
	}
	st := &Stack{}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	if st.dir, err = os.MkdirTemp("", "realenvoy"); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if st.Services, err = localstack.Start(sctx, localstack.Options{RepoRoot: s.RepoRoot, EnvoyConfig: s.Config, Ephemeral: !s.LocalRun,
		ServicesOnly: true, DataDir: s.DataDir}); err != nil {
		return nil, err
	}
	wasmPath := filepath.Join(st.dir, "plugin.wasm")
	if err := os.WriteFile(wasmPath, s.Wasm, 0o644); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(s.RepoRoot, s.Config))
	if err != nil {
		return nil, err
	}
	doc, err := ParseDoc(raw)
	if err != nil {
		return nil, err
	}
	sub := Substitutions(s.RepoRoot, wasmPath, st.Services.ClusterAddrs)
	sub.KeepPorts = s.LocalRun
	if err := Rewrite(doc, sub); err != nil {
		return nil, err
	}
	if s.Edit != nil {
		if err := s.Edit(doc); err != nil {
			return nil, err
		}
	}
	envoyDir := filepath.Join(st.dir, "envoy")
	if err := os.Mkdir(envoyDir, 0o755); err != nil {
		return nil, err
	}
	e, err := Run(envoyDir, Options{Binary: s.Binary, Version: s.Version, Config: doc, Concurrency: s.Concurrency,
		ComponentLogLevels: s.ComponentLogLevels, LogOut: s.LogOut, AccessLogOut: s.AccessLogOut})
	st.Envoy = e
	if err != nil {
		return st, err
	}
	if sr, _ := doc["static_resources"].(map[string]any); sr != nil {
		if ls := list(sr["listeners"]); len(ls) > 0 {
			name, _ := ls[0].(map[string]any)["name"].(string)
			st.ProxyURL = e.Listeners[name]
		}
	}
	// The services' stack then says where its proxy is, as with the host.
	st.Services.ProxyURL, st.Services.AdminURL = st.ProxyURL, e.AdminURL
	// With delegated verification (envoy-delegated.yaml) the plugin fetches
	// no keys: jwt_authn's async_fetch has fetched them before the listener
	// (and so /ready) came up.
	if st.Services.Issuer != nil && len(doc.WasmFilters()) > 0 && st.Services.Plugin.Auth.RemoteJWKS != nil {
		// Counters sum over the process's VMs: each worker's and the main
		// thread's (which ticks and fetches too) fetch once at start.
		kctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := e.waitCounter(kctx, CustomStat+metrics.JWKSFetchSuccess, uint64(e.Concurrency)+1); err != nil {
			return st, fmt.Errorf("realenvoy: the plugin did not load the issuer's keys: %w", err)
		}
	}
	return st, nil
}

// Close stops Envoy and the services and removes the stack's files.
func (s *Stack) Close() {
	if s.Envoy != nil {
		s.Envoy.Stop()
	}
	if s.Services != nil {
		s.Services.Close()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

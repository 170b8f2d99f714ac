// Command localstack runs the filter locally, without Docker: the reference
// merchant, session backend and device-token issuer, an API stand-in and
// plugin.wasm in the Envoy-faithful host, all configured from envoy.yaml.
// Once every worker has loaded the issuer's keys it prints a curl for a
// transfer that succeeds. Usually started with ./build.sh run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/e2e/localstack"
	"github.com/firmly/session-transfer-filter/e2e/realenvoy"
)

// authConfigs are the Envoy configurations for each -auth mode.
var authConfigs = map[string]string{"filter": "envoy.yaml", "delegated": "envoy-delegated.yaml"}

// emulated are the Envoy versions whose WASI the host emulates.
var emulated = map[string]envoyhost.EnvoyVersion{"1.33": envoyhost.Envoy133, "1.39": envoyhost.Envoy139}

func main() {
	wasmPath := flag.String("wasm", "plugin.wasm", "the compiled plugin")
	dataDir := flag.String("data", "e2e/localstack-data", "where the session backend keeps its store")
	envoy := flag.String("envoy", "1.33", "emulated Envoy WASI: 1.33 (1.33-1.38: poll_oneoff fails, the strictest) or 1.39 (1.39+)")
	quiet := flag.Bool("quiet", false, "do not print the plugin's log lines")
	reset := flag.Bool("reset", false, "delete the session store (the -data folder) before starting")
	proxy := flag.String("proxy", "host", "host (the Envoy-faithful host) or envoy (the real Envoy that ./build.sh envoy installs; -envoy picks its era or version)")
	authMode := flag.String("auth", "filter", "who verifies the device token: filter (the wasm filter, envoy.yaml) or delegated (Envoy's jwt_authn before it, envoy-delegated.yaml)")
	flag.Parse()
	if *proxy != "host" && *proxy != "envoy" {
		fmt.Fprintf(os.Stderr, "localstack: -proxy %q: pass -proxy host or -proxy envoy\n", *proxy)
		os.Exit(2)
	}

	envoyConfig, ok := authConfigs[*authMode]
	if !ok {
		fmt.Fprintf(os.Stderr, "localstack: -auth %q: pass -auth filter (envoy.yaml) or -auth delegated (envoy-delegated.yaml)\n", *authMode)
		os.Exit(2)
	}

	version, ok := emulated[*envoy]
	if !ok && *proxy == "envoy" {
		version, ok = envoyhost.Envoy139, slices.Contains(realenvoy.Versions(), *envoy)
	}
	if !ok {
		if *proxy == "envoy" {
			fmt.Fprintf(os.Stderr, "localstack: -envoy %q: pass a pinned real Envoy (%s), or 1.33 or 1.39 for the pinned one of that era\n", *envoy, strings.Join(realenvoy.Versions(), ", "))
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "localstack: -envoy %q: the host emulates Envoy 1.33 (for 1.33-1.38) and 1.39 (for 1.39+); pass -envoy 1.33 or -envoy 1.39\n", *envoy)
		os.Exit(2)
	}
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "localstack: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}
	wasm, err := os.ReadFile(*wasmPath)
	if err != nil {
		fatalf("localstack: %v (build it with ./build.sh)", err)
	}
	wd, _ := os.Getwd()
	root, err := localstack.FindRepoRoot(wd)
	if err != nil {
		fatalf("%v", err)
	}
	if *reset {
		if err := os.RemoveAll(*dataDir); err != nil {
			fatalf("localstack: -reset: %v", err)
		}
		fmt.Printf("removed the session store in %s\n", *dataDir)
	}
	if err := checkStoreFree(filepath.Join(*dataDir, "sessions.db")); err != nil {
		fatalf("%v", err)
	}
	logger := func(e envoyhost.LogEntry) { fmt.Fprintf(os.Stderr, "[wasm %s] %s\n", e.Level, e.Message) }
	if *quiet {
		logger = nil
	}
	if *proxy == "envoy" {
		runRealEnvoy(root, wasm, *envoy, envoySet(), *dataDir, *quiet)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	st, err := localstack.Start(ctx, localstack.Options{RepoRoot: root, EnvoyConfig: envoyConfig, Wasm: wasm, DataDir: *dataDir, Envoy: version, Logger: logger, AccessLog: os.Stdout})
	cancel()
	if err != nil {
		fatalf("%v", explain(err))
	}
	defer st.Close()
	// Start has waited until every worker loaded the issuer's JWKS, so this
	// token works as soon as it is printed.
	token, err := localstack.DevToken(root, "dev-device-1", time.Hour)
	if err != nil {
		fatalf("%v", err)
	}
	issuer := ""
	if st.Issuer != nil {
		issuer = fmt.Sprintf("  device-token issuer      %s   (JWKS at /.well-known/jwks.json; POST /_admin/rotate, POST /_admin/tokens)\n", st.IssuerURL)
	}
	verifier := "the filter verifies device tokens"
	if st.Config.JwtAuthn != nil {
		verifier = "jwt_authn verifies device tokens before the filter"
	}
	fmt.Printf(`Session Transfer filter running locally (emulating %s), configured from %s (%s)
  proxy (Envoy listener)   %s
  Envoy admin              %s   (/ready, /stats, /stats/prometheus)
  reference merchant       %s   (admin API under /_admin/)
  reference session store  %s   (GET /v1/sessions/{key})
%s
A transfer that succeeds (token valid for one hour, signed with the development key in e2e/dev):

%s

The merchant's stock lives in memory and resets when this stack restarts; the session store
persists in %s (./build.sh run -reset, or ./build.sh reset, empties it).
Press Ctrl-C to stop.
`, version, envoyConfig, verifier, st.ProxyURL, st.AdminURL, st.MerchantURL, st.BackendURL, issuer, st.Curl(token), *dataDir)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	fmt.Println("stopping the local stack")
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// checkStoreFree fails fast when another process holds the session store's
// lock (bbolt locks its file exclusively), which almost always means a
// local stack is already running, instead of waiting for the backend's own
// open timeout.
func checkStoreFree(path string) error {
	if _, err := os.Stat(path); err != nil {
		return nil // a fresh store: nobody holds it
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 300 * time.Millisecond})
	if errors.Is(err, bolt.ErrTimeout) {
		return fmt.Errorf("localstack: the session store %s is locked by another process: a local stack is probably already running (stop it with Ctrl-C, or start this one with -data DIR)", path)
	}
	if err != nil {
		return fmt.Errorf("localstack: session store %s: %w (./build.sh reset deletes it)", path, err)
	}
	return db.Close()
}

// explain names the busy port when a listener cannot bind.
func explain(err error) error {
	var op *net.OpError
	if errors.Is(err, syscall.EADDRINUSE) && errors.As(err, &op) && op.Addr != nil {
		return fmt.Errorf("localstack: port %s is already in use: a local stack may already be running (stop it with Ctrl-C), or another program holds the port (%w)", portOf(op.Addr.String()), err)
	}
	return err
}

func portOf(addr string) string {
	if _, p, err := net.SplitHostPort(addr); err == nil {
		return p
	}
	return addr
}

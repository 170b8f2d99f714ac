package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/localstack"
	"github.com/firmly/session-transfer-filter/e2e/realenvoy"
)

// envoySet reports whether -envoy was given on the command line.
func envoySet() bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "envoy" })
	return set
}

// runRealEnvoy runs the same stack with the real Envoy (installed by
// ./build.sh envoy) in place of the host: the services on envoy.yaml's ports,
// Envoy from envoy.yaml with only addresses and file paths mapped to this
// machine, its log on stderr and its access log on stdout.
func runRealEnvoy(root string, wasm []byte, envoyFlag string, explicit bool, dataDir string, quiet bool) {
	version := realenvoy.Versions()[len(realenvoy.Versions())-1] // the newest, unless -envoy says
	if explicit {
		version = envoyFlag
		if v := realenvoy.InEra(envoyFlag); v != "" {
			version = v
		}
	}
	bin, err := realenvoy.Binary(root, version)
	if err != nil {
		fatalf("localstack: -proxy envoy: %v (it installs %v)", err, realenvoy.Versions())
	}
	setup := realenvoy.Setup{RepoRoot: root, Version: version, Binary: bin, Wasm: wasm, LocalRun: true,
		DataDir: dataDir, AccessLogOut: os.Stdout}
	if !quiet {
		setup.LogOut = os.Stderr
	}
	fmt.Printf("starting Envoy %s (V8 compiles plugin.wasm first: up to a minute)...\n", version)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	st, err := realenvoy.Launch(ctx, setup)
	cancel()
	if err != nil {
		if st != nil && st.Envoy != nil && quiet {
			fmt.Fprintln(os.Stderr, st.Log())
		}
		fatalf("%v", explain(err))
	}
	defer st.Close()
	token, err := localstack.DevToken(root, "dev-device-1", time.Hour)
	if err != nil {
		fatalf("%v", err)
	}
	fmt.Printf(`Session Transfer filter running locally in Envoy %s (pid %d), configured from envoy.yaml
  proxy (Envoy listener)   %s
  Envoy admin              %s   (/ready, /stats, /stats/prometheus)
  reference merchant       %s   (admin API under /_admin/)
  reference session store  %s   (GET /v1/sessions/{key})
  device-token issuer      %s   (JWKS at /.well-known/jwks.json; POST /_admin/rotate, POST /_admin/tokens)

A transfer that succeeds (token valid for one hour, signed with the development key in e2e/dev):

%s

Press Ctrl-C to stop.
`, version, st.PID, st.ProxyURL, st.AdminURL, st.Services.MerchantURL, st.Services.BackendURL, st.Services.IssuerURL,
		st.Services.Curl(token))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	fmt.Println("stopping the local stack")
}

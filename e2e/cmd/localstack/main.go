// Command localstack runs the filter locally, without Docker: the reference
// merchant, session backend and device-token issuer, an API stand-in and
// plugin.wasm in the Envoy-faithful host, all configured from envoy.yaml.
// Once every worker has loaded the issuer's keys it prints a curl for a
// transfer that succeeds. Usually started with ./build.sh run.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/e2e/localstack"
)

func main() {
	wasmPath := flag.String("wasm", "plugin.wasm", "the compiled plugin")
	dataDir := flag.String("data", "e2e/localstack-data", "where the session backend keeps its store")
	envoy := flag.String("envoy", "1.33", "emulated Envoy WASI: 1.33 (poll_oneoff fails, strictest) or 1.39")
	quiet := flag.Bool("quiet", false, "do not print the plugin's log lines")
	flag.Parse()

	wasm, err := os.ReadFile(*wasmPath)
	if err != nil {
		log.Fatalf("localstack: %v (build it with ./build.sh)", err)
	}
	wd, _ := os.Getwd()
	root, err := localstack.FindRepoRoot(wd)
	if err != nil {
		log.Fatal(err)
	}
	version := envoyhost.Envoy133
	if *envoy == "1.39" {
		version = envoyhost.Envoy139
	}
	logger := func(e envoyhost.LogEntry) { fmt.Fprintf(os.Stderr, "[wasm %s] %s\n", e.Level, e.Message) }
	if *quiet {
		logger = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	st, err := localstack.Start(ctx, localstack.Options{RepoRoot: root, Wasm: wasm, DataDir: *dataDir, Envoy: version, Logger: logger})
	cancel()
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	// Start has waited until every worker loaded the issuer's JWKS, so this
	// token works as soon as it is printed.
	token, err := localstack.DevToken(root, "dev-device-1", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	issuer := ""
	if st.Issuer != nil {
		issuer = fmt.Sprintf("  device-token issuer      %s   (JWKS at /.well-known/jwks.json; POST /_admin/rotate, POST /_admin/tokens)\n", st.IssuerURL)
	}
	fmt.Printf(`Session Transfer filter running locally (emulating %s), configured from envoy.yaml
  proxy (Envoy listener)   %s
  reference merchant       %s   (admin API under /_admin/)
  reference session store  %s   (GET /v1/sessions/{key})
%s
A transfer that succeeds (token valid for one hour, signed with the development key in e2e/dev):

%s

Press Ctrl-C to stop.
`, version, st.ProxyURL, st.MerchantURL, st.BackendURL, issuer, st.Curl(token))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}

// Command refservices runs one reference service of the stack, as the
// docker-compose stack does: the merchant, the session backend, the API
// stand-in, or the device-token issuer (a JWKS and admin calls to rotate
// its key and mint tokens).
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/refbackend"
	"github.com/firmly/session-transfer-filter/e2e/refissuer"
	"github.com/firmly/session-transfer-filter/e2e/refmerchant"
)

func main() {
	role := flag.String("role", "", "merchant, backend, api or issuer")
	addr := flag.String("addr", ":8443", "listen address")
	cert := flag.String("cert", "", "TLS certificate (PEM); serve plain HTTP when empty")
	key := flag.String("key", "", "TLS key (PEM)")
	fixture := flag.String("fixture", "e2e/fixtures/luma.json", "merchant fixture")
	exportPath := flag.String("export-path", "/firmly/session/export", "merchant export path")
	data := flag.String("data", "/data/sessions.db", "backend store file")
	prefix := flag.String("prefix", "/v1/sessions/", "backend session path prefix")
	signingKey := flag.String("signing-key", "e2e/dev/device-token-key.jwk", "issuer: the private JWK it starts with")
	probe := flag.String("probe", "", "health-check this URL and exit (for container health checks)")
	ca := flag.String("ca", "", "CA certificate (PEM) trusted by -probe")
	flag.Parse()
	if *probe != "" {
		os.Exit(healthcheck(*probe, *ca))
	}

	var h http.Handler
	switch *role {
	case "merchant":
		f, err := refmerchant.LoadFixture(*fixture)
		if err != nil {
			log.Fatal(err)
		}
		h = refmerchant.New(f).Handler(*exportPath)
	case "backend":
		b, err := refbackend.Open(*data, *prefix)
		if err != nil {
			log.Fatal(err)
		}
		defer b.Close()
		h = b.Handler()
	case "api":
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body) // never answers before the body ends
			w.Header().Set("content-type", "application/json")
			fmt.Fprintf(w, `{"upstream":"firmly-api stand-in","path":%q,"body_bytes":%d}`+"\n", r.URL.Path, n)
		})
	case "issuer":
		i, err := refissuer.Load(*signingKey)
		if err != nil {
			log.Fatal(err)
		}
		h = i.Handler()
	default:
		log.Fatalf("refservices: -role must be merchant, backend, api or issuer")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("/", h)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("refservices: %s listening on %s", *role, *addr)
	if *cert != "" {
		log.Fatal(srv.ListenAndServeTLS(*cert, *key))
	}
	log.Fatal(srv.ListenAndServe())
}

func healthcheck(url, caFile string) int {
	tr := &http.Transport{}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			log.Print(err)
			return 1
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 2 * time.Second}).Get(url)
	if err != nil || resp.StatusCode != 200 {
		log.Printf("refservices: %s unhealthy: %v", url, err)
		return 1
	}
	return 0
}

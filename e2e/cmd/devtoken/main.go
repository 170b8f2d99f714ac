// Command devtoken prints a device token for the local stack. By default it
// signs with the development key in e2e/dev (kid dev-1, the key the reference
// issuer starts with); with -issuer it asks the running issuer to mint one
// with its current key, which is the only way to get a token after a
// rotation. Development only.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/localstack"
	"github.com/firmly/session-transfer-filter/e2e/refissuer"
)

func main() {
	device := flag.String("device", "dev-device-1", "device_id claim")
	ttl := flag.Duration("ttl", time.Hour, "lifetime")
	issuer := flag.String("issuer", "", "mint from the running reference issuer at this URL (e.g. https://127.0.0.1:7443)")
	flag.Parse()
	wd, _ := os.Getwd()
	root, err := localstack.FindRepoRoot(wd)
	if err != nil {
		log.Fatal(err)
	}
	if *issuer == "" {
		tok, err := localstack.DevToken(root, *device, *ttl)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(tok)
		return
	}
	pem, err := os.ReadFile(filepath.Join(root, "e2e", "dev", "ca.pem"))
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	got, err := refissuer.MintFrom(client, *issuer, refissuer.TokenRequest{DeviceID: *device, AppID: "local-dev", TTLSeconds: int64(ttl.Seconds())})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Token)
}

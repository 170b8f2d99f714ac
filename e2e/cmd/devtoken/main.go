// Command devtoken prints a device token signed with the development key in
// e2e/dev, valid for envoy.yaml's JWKS. Development only.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/localstack"
)

func main() {
	device := flag.String("device", "dev-device-1", "device_id claim")
	ttl := flag.Duration("ttl", time.Hour, "lifetime")
	flag.Parse()
	wd, _ := os.Getwd()
	root, err := localstack.FindRepoRoot(wd)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := localstack.DevToken(root, *device, *ttl)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok)
}

// Command devcerts writes the development-only TLS material and device-token
// key of the local stack into e2e/dev/: a CA, one server certificate for the
// reference services, and an ES256 signing key (as a JWK) whose public half
// is in envoy.yaml's JWKS. None of it protects anything real; regenerate with
//
//	go run ./e2e/cmd/devcerts -out e2e/dev
//
// and paste the printed public JWK into envoy.yaml and the Istio example.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

func main() {
	out := flag.String("out", "e2e/dev", "output directory")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	caKey := newKey()
	now := time.Now().Add(-time.Hour)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "session-transfer development CA"},
		NotBefore: now, NotAfter: now.AddDate(20, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	check(err)
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey := newKey()
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "reference services"},
		NotBefore: now, NotAfter: now.AddDate(20, 0, 0),
		DNSNames:    []string{"staging.luma.gift", "sessions.internal", "merchant", "sessions", "localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	check(err)
	write(filepath.Join(*out, "ca.pem"), "CERTIFICATE", caDER)
	write(filepath.Join(*out, "server.pem"), "CERTIFICATE", srvDER)
	srvKeyDER, _ := x509.MarshalECPrivateKey(srvKey)
	write(filepath.Join(*out, "server-key.pem"), "EC PRIVATE KEY", srvKeyDER)

	dev := newKey()
	b := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.FillBytes(make([]byte, 32))) }
	jwk := fmt.Sprintf(`{"kty":"EC","crv":"P-256","kid":"dev-1","alg":"ES256","use":"sig","x":%q,"y":%q,"d":%q}`+"\n", b(dev.X), b(dev.Y), b(dev.D))
	check(os.WriteFile(filepath.Join(*out, "device-token-key.jwk"), []byte(jwk), 0o644))
	fmt.Printf(`public JWK: {"kty":"EC","crv":"P-256","kid":"dev-1","alg":"ES256","use":"sig","x":%q,"y":%q}`+"\n", b(dev.X), b(dev.Y))
}

func newKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	return k
}

func write(path, kind string, der []byte) {
	check(os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o644))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

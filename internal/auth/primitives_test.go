package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"
)

// The signature primitives alone, ours against the standard library's, and
// the parser. Meant to run inside Wasm as well as natively (docs/security.md):
//
//	GOOS=wasip1 GOARCH=wasm go test -c -o prim.wasm ./internal/auth
//	go run github.com/tetratelabs/wazero/cmd/wazero run prim.wasm -test.run X -test.bench Primitives
func BenchmarkPrimitives(b *testing.B) {
	keys(b)
	h := sha256.Sum256([]byte("hello"))
	sig, _ := rsa.SignPKCS1v15(nil, rsaPriv, crypto.SHA256, h[:])
	k, err := newRSAKey(rsaPriv.N.Bytes(), big.NewInt(int64(rsaPriv.E)).Bytes())
	if err != nil {
		b.Fatal(err)
	}
	r, s, _ := ecdsa.Sign(rand.Reader, ecPriv, h[:])
	es := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	pad := func(b []byte) []byte { return append(make([]byte, 32-len(b)), b...) }
	ek, err := newECKey(pad(ecPriv.X.Bytes()), pad(ecPriv.Y.Bytes()))
	if err != nil {
		b.Fatal(err)
	}
	tok := sign(b, "HS256", "", claims(nil))
	hk := newHS256Key([]byte(hsSecret))
	for _, c := range []struct {
		name string
		f    func() bool
	}{
		{"RS256/prepared-bigmod", func() bool { return k.verify(h[:], sig) }},
		{"RS256/crypto-rsa", func() bool { return rsa.VerifyPKCS1v15(&rsaPriv.PublicKey, crypto.SHA256, h[:], sig) == nil }},
		{"ES256/this-build", func() bool { return ek.verify(h[:], es) }},
		{"ES256/crypto-ecdsa", func() bool { return ecdsa.Verify(&ecPriv.PublicKey, h[:], r, s) }},
		{"HS256/hmac", func() bool { return hk.verify([]byte(tok), make([]byte, 32)) || true }},
		{"parse", func() bool { _, err := parseToken(tok); return err == nil }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if !c.f() {
					b.Fatal("refused")
				}
			}
		})
	}
}

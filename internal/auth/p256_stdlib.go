//go:build auth_stdlib_ecdsa

package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"math/big"
)

// ES256 on crypto/ecdsa, kept to measure against p256.go (see
// docs/security.md): go build -tags auth_stdlib_ecdsa.

type ecKey struct{ pub *ecdsa.PublicKey }

func newECKey(x, y []byte) (*ecKey, error) {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, errors.New("EC key is not a point on P-256")
	}
	return &ecKey{pub: pub}, nil
}

var p256N = elliptic.P256().Params().N

func (k *ecKey) verify(hashed, sig []byte) bool {
	if len(sig) != 64 || len(hashed) != 32 {
		return false
	}
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if r.Sign() == 0 || s.Sign() == 0 || r.Cmp(p256N) >= 0 || s.Cmp(p256N) >= 0 {
		return false
	}
	return ecdsa.Verify(k.pub, hashed, r, s)
}

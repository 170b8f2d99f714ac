//go:build !auth_stdlib_ecdsa

package auth

import (
	"errors"

	"filippo.io/bigmod"
	"filippo.io/nistec"
)

// ES256 on filippo.io/nistec's P-256 alone: crypto/ecdsa links all four NIST
// curves into the module. The figures behind the choice are in
// docs/security.md; build with -tags auth_stdlib_ecdsa to measure the other
// path (p256_stdlib.go).

// p256Order is n, the order of the P-256 base point.
var p256Order = mustModulus([]byte{
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
})

func mustModulus(b []byte) *bigmod.Modulus {
	m, err := bigmod.NewModulus(b)
	if err != nil {
		panic(err)
	}
	return m
}

type ecKey struct{ q *nistec.P256Point }

func newECKey(x, y []byte) (*ecKey, error) {
	q, err := nistec.NewP256Point().SetBytes(append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, errors.New("EC key is not a point on P-256")
	}
	return &ecKey{q: q}, nil
}

// verify checks a JWS ES256 signature: exactly 64 bytes r||s, r and s in
// [1, n-1] (SEC 1 §4.1.4), then x(u1·G + u2·Q) mod n == r.
func (k *ecKey) verify(hashed, sig []byte) bool {
	if len(sig) != 64 || len(hashed) != 32 {
		return false
	}
	n := p256Order
	r, err1 := bigmod.NewNat().SetBytes(sig[:32], n)
	s, err2 := bigmod.NewNat().SetBytes(sig[32:], n)
	if err1 != nil || err2 != nil || r.IsZero() == 1 || s.IsZero() == 1 {
		return false
	}
	// A 256-bit hash against a 256-bit order: reduced once, no truncation.
	e, err := bigmod.NewNat().SetOverflowingBytes(hashed, n)
	if err != nil {
		return false
	}
	w, ok := bigmod.NewNat().InverseVarTime(s, n)
	if !ok {
		return false
	}
	u1 := e.Mul(w, n)
	u2, _ := bigmod.NewNat().SetBytes(sig[:32], n)
	u2.Mul(w, n)
	p1, err1 := nistec.NewP256Point().ScalarBaseMult(u1.Bytes(n))
	p2, err2 := nistec.NewP256Point().ScalarMult(k.q, u2.Bytes(n))
	if err1 != nil || err2 != nil {
		return false
	}
	x, err := p1.Add(p1, p2).BytesX() // fails on the point at infinity
	if err != nil {
		return false
	}
	xn, err := bigmod.NewNat().SetOverflowingBytes(x, n)
	return err == nil && xn.Equal(r) == 1
}

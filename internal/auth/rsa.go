package auth

import (
	"crypto/subtle"
	"errors"
	"github.com/firmly/session-transfer-filter/internal/fmtlite"
	"github.com/firmly/session-transfer-filter/internal/sha256"

	"filippo.io/bigmod"
)

// RSA key sizes accepted: SPEC §2.2 sets the floor; the ceiling keeps one
// verification's cost bounded whatever a remote JWKS serves.
const (
	minRSABits = 2048
	maxRSABits = 4096
	// rsaExponent is the only public exponent accepted (SPEC §2.2): a
	// large one would make each check slower, and no issuer needs another.
	rsaExponent = 65537
)

// sha256DigestInfo is the DER prefix of DigestInfo{sha256, NULL} (RFC 8017
// §9.2 note 1).
var sha256DigestInfo = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// rsaKey is an RS256 public key prepared once: the modulus with its
// Montgomery constants (what crypto/rsa rebuilds on every call), and the
// expected PKCS#1 v1.5 encoding up to the hash.
type rsaKey struct {
	n      *bigmod.Modulus
	m2048  *rsa2048 // 2048-bit moduli: the generated Montgomery multiplication
	e      uint
	size   int    // modulus bytes
	prefix []byte // 0x00 0x01 0xFF.. 0x00 DigestInfo
}

func newRSAKey(n, e []byte) (*rsaKey, error) {
	if len(e) > 4 {
		return nil, errors.New("RSA key has an invalid exponent")
	}
	var ev uint
	for _, b := range e {
		ev = ev<<8 | uint(b)
	}
	if ev != rsaExponent || e[0] == 0 {
		return nil, errors.New("RSA key has an invalid exponent: only 65537 is accepted")
	}
	if n[0] == 0 {
		return nil, errors.New("RSA key modulus has leading zero bytes")
	}
	m, err := bigmod.NewModulus(n)
	if err != nil {
		return nil, fmtlite.Errorf("RSA key modulus: %w", err)
	}
	bits := m.BitLen()
	switch {
	case bits < minRSABits:
		return nil, fmtlite.Errorf("RSA key of %d bits: at least %d required", bits, minRSABits)
	case bits > maxRSABits:
		return nil, fmtlite.Errorf("RSA key of %d bits: at most %d accepted", bits, maxRSABits)
	case n[len(n)-1]&1 == 0:
		return nil, errors.New("RSA key modulus is even")
	}
	k := &rsaKey{n: m, e: ev, size: m.Size()}
	if bits == 2048 {
		k.m2048 = newRSA2048(n)
	}
	k.prefix = make([]byte, k.size-sha256.Size)
	k.prefix[1] = 0x01
	pad := k.prefix[2 : len(k.prefix)-len(sha256DigestInfo)-1]
	for i := range pad {
		pad[i] = 0xff
	}
	copy(k.prefix[len(k.prefix)-len(sha256DigestInfo):], sha256DigestInfo)
	return k, nil
}

// verify checks an RSASSA-PKCS1-v1_5 signature over a SHA-256 hash by
// building the one encoding a valid signature decrypts to and comparing
// all of it in constant time; the decrypted block is never parsed.
func (k *rsaKey) verify(hashed, sig []byte) bool {
	if len(sig) != k.size || len(hashed) != sha256.Size {
		return false
	}
	em, ok := k.decrypt(sig)
	if !ok {
		return false
	}
	eq := subtle.ConstantTimeCompare(em[:len(k.prefix)], k.prefix)
	eq &= subtle.ConstantTimeCompare(em[len(k.prefix):], hashed)
	return eq == 1
}

// decrypt is sig^e mod n as k.size bytes; false when sig >= n.
func (k *rsaKey) decrypt(sig []byte) ([]byte, bool) {
	if k.m2048 != nil {
		return k.m2048.exp(sig, k.e)
	}
	s, err := bigmod.NewNat().SetBytes(sig, k.n) // refuses s >= n
	if err != nil {
		return nil, false
	}
	return bigmod.NewNat().ExpShortVarTime(s, k.e, k.n).Bytes(k.n), true
}

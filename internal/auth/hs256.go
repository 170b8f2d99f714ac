package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
)

// hs256Key checks HS256 tags with the configured secret, and only that:
// no JWKS key is ever an HMAC secret.
type hs256Key struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

func newHS256Key(secret []byte) *hs256Key { return &hs256Key{mac: hmac.New(sha256.New, secret)} }

// verify compares the full 32-byte tag in constant time; a truncated tag is
// refused. Not safe for concurrent use (the HMAC state is reused).
func (k *hs256Key) verify(msg, tag []byte) bool {
	if len(tag) != sha256.Size {
		return false
	}
	k.mac.Reset()
	k.mac.Write(msg)
	return hmac.Equal(k.mac.Sum(k.sum[:0]), tag)
}

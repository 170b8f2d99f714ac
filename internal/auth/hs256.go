package auth

import (
	"crypto/subtle"

	"github.com/firmly/session-transfer-filter/internal/sha256"
)

// hs256Key checks HS256 tags with the configured secret, and only that:
// no JWKS key is ever an HMAC secret. The HMAC is internal/sha256's, not
// crypto/hmac: that one links the FIPS 140 module (docs/performance.md,
// "Size").
type hs256Key struct{ mac *sha256.HMAC }

func newHS256Key(secret []byte) *hs256Key { return &hs256Key{mac: sha256.NewHMAC(secret)} }

// verify compares the full 32-byte tag in constant time; a truncated tag is
// refused.
func (k *hs256Key) verify(msg, tag []byte) bool {
	if len(tag) != sha256.Size {
		return false
	}
	sum := k.mac.Sum(msg)
	return subtle.ConstantTimeCompare(sum[:], tag) == 1
}

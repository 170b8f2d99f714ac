// Package sessionkey computes the Firmly session key of a transfer (SPEC §2.4):
// lower-case hex of HMAC-SHA256(secret, M), where M is a sequence of
// length-prefixed fields, so no two different inputs share an M.
package sessionkey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sort"
	"strconv"
)

// Label opens every message; it names the recipe's version.
const Label = "firmly-session-transfer-v1"

// MinSecretBytes is the shortest secret accepted.
const MinSecretBytes = 32

// Cookie is a normalised cookie.
type Cookie struct{ Name, Value string }

// Input is what the key is computed from.
type Input struct {
	Domain       string // normalised
	ObjectHandle bool   // the handle was a JSON object
	Handle       string // the string handle, or handle.handle
	Token        string // handle.token, or ""
	Cookies      []Cookie
}

// Compute returns the session key. Cookies are hashed sorted by name, then
// value (bytewise), so their order in the request does not matter; the
// input slice is not modified.
func Compute(secret []byte, in Input) string {
	mac := hmac.New(sha256.New, secret)
	field(mac, Label)
	field(mac, in.Domain)
	if in.ObjectHandle {
		field(mac, "o")
	} else {
		field(mac, "s")
	}
	field(mac, in.Handle)
	field(mac, in.Token)
	field(mac, strconv.Itoa(len(in.Cookies)))
	for _, c := range Sorted(in.Cookies) {
		field(mac, c.Name)
		field(mac, c.Value)
	}
	return hex.EncodeToString(mac.Sum(nil))
}

func field(h hash.Hash, s string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// Sorted returns a copy of cookies sorted by name, then value, bytewise.
func Sorted(cookies []Cookie) []Cookie {
	out := append([]Cookie(nil), cookies...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Value < out[j].Value
	})
	return out
}

// Package sessionkey computes the Firmly session key of a transfer (SPEC §2.4):
// lower-case hex of HMAC-SHA256(secret, M), where M is a sequence of
// length-prefixed fields, so no two different inputs share an M.
package sessionkey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
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
	kind := "s"
	if in.ObjectHandle {
		kind = "o"
	}
	count := strconv.Itoa(len(in.Cookies))
	cookies := Sorted(in.Cookies)
	// M is built in one buffer and hashed with one Write: the wasm VM is
	// single-threaded and garbage-collected, so allocations are not free.
	size := 4*7 + len(Label) + len(in.Domain) + len(kind) + len(in.Handle) + len(in.Token) + len(count)
	for _, c := range cookies {
		size += 8 + len(c.Name) + len(c.Value)
	}
	m := make([]byte, 0, size)
	m = field(m, Label)
	m = field(m, in.Domain)
	m = field(m, kind)
	m = field(m, in.Handle)
	m = field(m, in.Token)
	m = field(m, count)
	for _, c := range cookies {
		m = field(m, c.Name)
		m = field(m, c.Value)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(m)
	var sum [sha256.Size]byte
	return hex.EncodeToString(mac.Sum(sum[:0]))
}

// field appends s as its 4-byte big-endian length, then its bytes.
func field(m []byte, s string) []byte {
	m = binary.BigEndian.AppendUint32(m, uint32(len(s)))
	return append(m, s...)
}

// Sorted returns a copy of cookies sorted by name, then value, bytewise.
func Sorted(cookies []Cookie) []Cookie {
	out := append([]Cookie(nil), cookies...)
	slices.SortFunc(out, func(a, b Cookie) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out
}

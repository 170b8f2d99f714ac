// Package sessionkey computes the Firmly session key of a transfer (SPEC §2.4):
// lower-case hex of HMAC-SHA256(secret, M), where M is a sequence of
// length-prefixed fields, so no two different inputs share an M.
package sessionkey

import (
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/firmly/session-transfer-filter/internal/sha256"
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
	return NewKeyer(secret).Key(in)
}

// Keyer computes session keys under one secret without allocating beyond
// the key itself: HMAC's inner and outer hash states after the padded
// secret are computed once (internal/sha256.HMAC), and M is written into one
// reused buffer (hmac.New allocated both digests and both pads per key).
// Not for concurrent use: a transfer engine, and so its Keyer, belongs to
// one VM.
type Keyer struct {
	mac    *sha256.HMAC
	m      []byte   // M, reused
	sorted []Cookie // the cookies' sorted copy, reused
}

// NewKeyer prepares the HMAC-SHA256 of secret (RFC 2104).
func NewKeyer(secret []byte) *Keyer {
	return &Keyer{mac: sha256.NewHMAC(secret)}
}

// Key returns the session key of in (see Compute).
func (k *Keyer) Key(in Input) string {
	kind := "s"
	if in.ObjectHandle {
		kind = "o"
	}
	var countBuf [20]byte
	count := strconv.AppendInt(countBuf[:0], int64(len(in.Cookies)), 10)
	cookies := in.Cookies
	if !slices.IsSortedFunc(cookies, compareCookies) {
		k.sorted = append(k.sorted[:0], cookies...)
		slices.SortFunc(k.sorted, compareCookies)
		cookies = k.sorted
	}
	m := k.m[:0]
	m = field(m, Label)
	m = field(m, in.Domain)
	m = field(m, kind)
	m = field(m, in.Handle)
	m = field(m, in.Token)
	m = binary.BigEndian.AppendUint32(m, uint32(len(count)))
	m = append(m, count...)
	for _, c := range cookies {
		m = field(m, c.Name)
		m = field(m, c.Value)
	}
	k.m = m
	sum := k.mac.Sum(m)
	clear(k.sorted) // keep no request's cookies alive past it
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

func compareCookies(a, b Cookie) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.Value, b.Value)
}

// field appends s as its 4-byte big-endian length, then its bytes.
func field(m []byte, s string) []byte {
	m = binary.BigEndian.AppendUint32(m, uint32(len(s)))
	return append(m, s...)
}

// Sorted returns a copy of cookies sorted by name, then value, bytewise.
func Sorted(cookies []Cookie) []Cookie {
	out := append([]Cookie(nil), cookies...)
	slices.SortFunc(out, compareCookies)
	return out
}

package auth

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Delegated verification (SPEC §2.2c): a filter before this one (Envoy's
// jwt_authn, Istio's RequestAuthentication) verified the token and left its
// payload in dynamic metadata. The filter reads each claim it needs as a
// leaf property and applies the same claim rules (checkClaims) as to a token
// it verified itself.
//
// Envoy serialises a leaf without its type (context.cc serializeValue): a
// string as its bytes, a number as an 8-byte little-endian IEEE double, a
// bool as one byte. The reader must know the type it expects, so a claim of
// the wrong JSON type shows up as bytes that break that claim's rule: a
// number where device_id belongs is 8 binary bytes, outside its alphabet.

// DelegatedKid is the kid the filter reports (filter state
// session_transfer.kid) for a token verified by the filter before it.
const DelegatedKid = "delegated"

// ReadClaim reads a property under the verified payload: path nil is the
// payload itself, ["exp"] a claim, ["aud", "0"] an element of a list claim.
// found is false when Envoy answers NotFound; err is any other failure
// (Envoy cannot serialise a null claim, for example).
type ReadClaim func(path []string) (value []byte, found bool, err error)

// maxAudiences bounds how many elements of an aud list are looked at.
const maxAudiences = 16

// VerifyPayload applies the claim rules to a verified payload. Without a
// payload the Error has NoPayload set: the caller answers as for a missing
// or refused token, judged by the request's x-firmly-authorization header.
func (v *Verifier) VerifyPayload(read ReadClaim, now time.Time) Result {
	var c tokenClaims
	// device_id first: it is required, so only when it is absent does the
	// payload itself need a look (absent payload or absent claim).
	dev, found, err := read([]string{"device_id"})
	switch {
	case err != nil:
		return Result{Err: refuse("device_id claim is malformed")}
	case found:
		c.deviceID = gjsonString{present: true, isString: true, s: string(dev)}
	default:
		if _, ok, err := read(nil); err == nil && !ok {
			return Result{Err: &Error{Reason: "no verified token payload", NoPayload: true}}
		}
	}
	for _, d := range [...]struct {
		name string
		out  *numericDate
	}{{"exp", &c.exp}, {"nbf", &c.nbf}, {"iat", &c.iat}} {
		if e := readDate(read, d.name, d.out); e != nil {
			return Result{Err: e}
		}
	}
	if s, found, err := read([]string{"app_id"}); err != nil || found && !textClaim(s) {
		return Result{Err: refuse("app_id claim must be a non-empty string")}
	} else if found {
		c.appID = gjsonString{present: true, isString: true, s: string(s)}
	}
	// iss and aud are read only when the configuration checks them.
	if v.opts.Issuer != "" {
		if s, found, err := read([]string{"iss"}); err == nil && found {
			c.iss = gjsonString{present: true, isString: true, s: string(s)}
		}
	}
	if v.opts.Audience != "" {
		c.aud = readAudience(read)
	}
	claims, e := v.checkClaims(&c, now)
	if e != nil {
		return Result{Err: e}
	}
	claims.Kid = DelegatedKid
	return Result{Claims: claims}
}

// readDate reads a NumericDate claim: absent is fine (jwt_authn requires
// exp only when configured to), anything but 8 bytes of a finite double
// within ±2^53 is refused, as in a token.
func readDate(read ReadClaim, name string, out *numericDate) *Error {
	b, found, err := read([]string{name})
	switch {
	case err != nil:
		return refuse("%s claim must be a number", name)
	case !found:
		return nil
	case len(b) != 8:
		return refuse("%s claim must be a number", name)
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(b))
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return refuse("%s claim must be a number", name)
	case math.Abs(f) > 1<<53: // SPEC §2.2: beyond 2^53 is out of range (a double here, so exact)
		return refuse("%s claim is out of range", name)
	}
	*out = numericDate{present: true, sec: f}
	return nil
}

// textClaim: a non-empty string claim. A number or bool serialised where a
// string belongs is binary (a double nearly always has a byte below 0x20 or
// is not UTF-8), so it is refused rather than taken as text.
func textClaim(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// readAudience returns aud as the raw JSON hasAudience reads: a string, or
// an array of the list's string elements (a list is looked up element by
// element: Envoy walks a list with an index segment, and a string claim has
// no elements).
func readAudience(read ReadClaim) string {
	if _, found, err := read([]string{"aud", "0"}); err == nil && found {
		b := append(make([]byte, 0, 64), '[')
		for i := 0; i < maxAudiences; i++ {
			s, found, err := read([]string{"aud", strconv.Itoa(i)})
			if err != nil || !found {
				break
			}
			if i > 0 {
				b = append(b, ',')
			}
			if !textClaim(s) {
				s = nil // a non-string element matches nothing
			}
			b = appendJSONString(b, s)
		}
		return string(append(b, ']'))
	}
	s, found, err := read([]string{"aud"})
	if err != nil || !found || !textClaim(s) {
		return ""
	}
	return string(appendJSONString(nil, s))
}

// appendJSONString quotes text that textClaim accepted (valid UTF-8, no
// control characters), so only '"' and '\\' need escapes.
func appendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	for _, c := range s {
		if c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return append(b, '"')
}

package auth

import (
	"encoding/base64"
	"github.com/firmly/session-transfer-filter/internal/fmtlite"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// The strict token syntax of SPEC §2.2. Every refusal names its cause and
// never echoes the token: a description may only contain fixed text, numbers
// and values the filter itself validated (an alg of a few letters and digits).

const (
	// DefaultMaxTokenBytes is auth.max_token_bytes' default.
	DefaultMaxTokenBytes = 8192
	maxKidBytes          = 256
	// maxJSONDepth bounds nesting in the header and payload, so the
	// duplicate-name walk stays shallow whatever a client sends.
	maxJSONDepth = 32
)

// trimToken removes ASCII space and tab around the header value and after a
// case-insensitive "Bearer" prefix; nothing else (U+00A0, U+3000, CR, LF
// stay, and make the token malformed).
func trimToken(h string) string {
	t := strings.Trim(h, " \t")
	if len(t) >= 6 && strings.EqualFold(t[:6], "bearer") && (len(t) == 6 || t[6] == ' ' || t[6] == '\t') {
		t = strings.Trim(t[6:], " \t")
	}
	return t
}

// token is a syntactically valid JWS compact serialisation.
type token struct {
	signingInput string // header "." payload, as sent
	sig          []byte
	alg          string
	kid          string
	hasKid       bool
	claims       tokenClaims
}

// numericDate is an exp, nbf or iat claim.
type numericDate struct {
	present bool
	sec     float64
}

// tokenClaims are the payload members the claim rules look at. They are
// what the cache keeps, so a hit re-runs exactly the rules a miss runs.
type tokenClaims struct {
	exp, nbf, iat numericDate
	iss           gjsonString
	aud           string // raw JSON of the aud claim; "" when absent
	deviceID      gjsonString
	appID         gjsonString
	kid           string // the header's kid, "" when absent: the cache keeps it with the claims
}

type gjsonString struct {
	present, isString bool
	s                 string
}

func readString(r gjson.Result) gjsonString {
	return gjsonString{present: true, isString: r.Type == gjson.String, s: r.Str}
}

// decodeSegment decodes canonical unpadded base64url: only [A-Za-z0-9_-]
// (encoding/base64 would skip CR and LF), and zero unused bits (Strict), so
// every byte string has exactly one spelling.
func decodeSegment(s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, false
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return b, err == nil
}

// jsonObject checks b is exactly one JSON object in valid UTF-8, followed
// only by JSON whitespace, with no duplicate member name at any depth, and
// calls member for each top-level member.
func jsonObject(b []byte, what string, member func(name string, v gjson.Result) *Error) *Error {
	if !utf8.Valid(b) {
		return refuse("malformed token: %s is not valid UTF-8", what)
	}
	if !gjson.ValidBytes(b) {
		return refuse("malformed token: %s is not valid JSON", what)
	}
	root := gjson.ParseBytes(b)
	if !root.IsObject() {
		return refuse("malformed token: %s is not a JSON object", what)
	}
	var err *Error
	seen := make(map[string]struct{}, 8)
	root.ForEach(func(k, v gjson.Result) bool {
		if _, dup := seen[k.Str]; dup {
			err = refuse("malformed token: duplicate member name in %s", what)
			return false
		}
		seen[k.Str] = struct{}{}
		if err = noDuplicates(v, what, 1); err != nil {
			return false
		}
		err = member(k.Str, v)
		return err == nil
	})
	return err
}

// noDuplicates walks nested objects and arrays.
func noDuplicates(v gjson.Result, what string, depth int) *Error {
	if !v.IsObject() && !v.IsArray() {
		return nil
	}
	if depth >= maxJSONDepth {
		return refuse("malformed token: %s is nested more than %d levels deep", what, maxJSONDepth)
	}
	var err *Error
	var seen map[string]struct{}
	isObj := v.IsObject()
	if isObj {
		seen = map[string]struct{}{}
	}
	v.ForEach(func(k, val gjson.Result) bool {
		if isObj {
			if _, dup := seen[k.Str]; dup {
				err = refuse("malformed token: duplicate member name in %s", what)
				return false
			}
			seen[k.Str] = struct{}{}
		}
		err = noDuplicates(val, what, depth+1)
		return err == nil
	})
	return err
}

// parseToken applies every syntax rule to a trimmed token of at most the
// size limit. It neither hashes nor verifies anything.
func parseToken(t string) (*token, *Error) {
	d1 := strings.IndexByte(t, '.')
	d2 := strings.LastIndexByte(t, '.')
	if n := strings.Count(t, "."); n != 2 {
		return nil, refuse("malformed token: want 3 segments separated by '.', got %d", n+1)
	}
	hs, ps, ss := t[:d1], t[d1+1:d2], t[d2+1:]
	hdr, ok := decodeSegment(hs)
	if !ok {
		return nil, refuse("malformed token: header is not canonical unpadded base64url")
	}
	tok := &token{signingInput: t[:d2]}
	var alg gjson.Result
	err := jsonObject(hdr, "header", func(name string, v gjson.Result) *Error {
		switch name {
		case "alg":
			alg = v
		case "crit":
			// RFC 7515 §4.1.11: no extension is understood, so none may be critical.
			return refuse("crit header parameter is not supported")
		case "kid":
			if v.Type != gjson.String {
				return refuse("kid header parameter must be a string")
			}
			if len(v.Str) > maxKidBytes {
				return refuse("kid header parameter longer than %d bytes", maxKidBytes)
			}
			tok.kid, tok.hasKid = v.Str, true
		}
		// jwk, jku, x5u, x5c: never used to find a key, never fetched.
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case !alg.Exists():
		return nil, refuse("missing alg header parameter")
	case alg.Type != gjson.String:
		return nil, refuse("alg header parameter must be a string")
	}
	tok.alg = alg.Str
	payload, ok := decodeSegment(ps)
	if !ok {
		return nil, refuse("malformed token: payload is not canonical unpadded base64url")
	}
	c := &tok.claims
	err = jsonObject(payload, "payload", func(name string, v gjson.Result) *Error {
		var nd *numericDate
		switch name {
		case "exp":
			nd = &c.exp
		case "nbf":
			nd = &c.nbf
		case "iat":
			nd = &c.iat
		case "iss":
			c.iss = readString(v)
		case "aud":
			// Copied: v points into payload, which is dropped.
			c.aud = strings.Clone(v.Raw)
		case "device_id":
			c.deviceID = readString(v)
		case "app_id":
			c.appID = readString(v)
		}
		if nd != nil {
			if v.Type != gjson.Number {
				return refuse("%s claim must be a number", name)
			}
			if !numericDateInRange(v.Raw) {
				return refuse("%s claim out of range", name)
			}
			*nd = numericDate{present: true, sec: v.Num}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sig, ok := decodeSegment(ss)
	if !ok {
		return nil, refuse("malformed token: signature is not canonical unpadded base64url")
	}
	tok.sig = sig // may be empty: refused once alg is known to be allowed
	return tok, nil
}

// numericDateInRange reports whether the JSON number raw (valid JSON
// number syntax) has a magnitude of at most 2^53, decided exactly on the
// digits as written (SPEC §2.2): 9007199254740993 and 9007199254740992.5
// are out of range although both round to 2^53 as a float. No arithmetic
// on the exponent's value, so 1e999999999 costs what its text costs.
func numericDateInRange(raw string) bool {
	const limit = "9007199254740992" // 2^53: 16 digits
	s := strings.TrimPrefix(raw, "-")
	mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	// The value is 0.digits × 10^point, once leading zeros are dropped.
	point := len(intPart)
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
		point--
	}
	if digits == "" {
		return true // zero, whatever the exponent
	}
	if exp != "" {
		neg := exp[0] == '-'
		exp = strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
		if len(exp) > 6 {
			return neg // 10^±1000000 or beyond
		}
		e, _ := strconv.Atoi(exp)
		if neg {
			e = -e
		}
		point += e
	}
	switch {
	case point > len(limit):
		return false
	case point < len(limit):
		return true
	}
	intDigits := digits
	if len(intDigits) > point {
		intDigits = intDigits[:point]
	}
	intDigits += strings.Repeat("0", point-len(intDigits))
	if c := strings.Compare(intDigits, limit); c != 0 {
		return c < 0
	}
	// Exactly 2^53 before the point: in range only with nothing after it.
	return strings.Trim(digits[min(len(digits), point):], "0") == ""
}

// algName is alg when it is safe to echo (a few ASCII letters and digits),
// else a placeholder: a description never carries client text that could
// be a token.
func algName(alg string) string {
	if len(alg) > 16 {
		return "(not shown)"
	}
	for i := 0; i < len(alg); i++ {
		c := alg[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "(not shown)"
		}
	}
	return fmtlite.Sprintf("%q", alg)
}

// Package auth verifies the device JWT of x-firmly-authorization (SPEC §2.2).
//
// Signatures are checked by github.com/cristalhq/jwt/v4, limited to an
// explicit allow-list: RS256 and ES256 with keys from the configured JWKS,
// HS256 only with the configured HMAC secret. JWKS keys are never used as
// HMAC secrets, and "none" is never accepted. The library arms no timers.
//
// Why not golang-jwt/jwt or go-jose: both import crypto/x509, which links
// os.Stat, whose WASI import (path_filestat_get) Envoy 1.33–1.38 lack: the
// module would not load there. The plugin's load test catches that.
package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/cristalhq/jwt/v4"
	"github.com/tidwall/gjson"
)

// Options configure a Verifier.
type Options struct {
	JWKS          []byte // {"keys": [...]}
	HS256Secret   []byte // nil: HS256 is not accepted
	Leeway        time.Duration
	Issuer        string // "": not checked
	Audience      string // "": not checked
	AllowedAppIDs []string
}

// Verifier checks device tokens. It is immutable and safe to share.
type Verifier struct {
	opts    Options
	keys    []jwk
	methods []string
	hs256   jwt.Verifier
}

type jwk struct {
	kid      string
	alg      string // RS256 or ES256
	verifier jwt.Verifier
}

// Claims are what a valid token tells the filter.
type Claims struct {
	DeviceID string
	AppID    string // "" when the token has none
}

// Error says why a token was refused; its text is safe to show the client
// (it never contains the token).
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

func refuse(format string, args ...any) *Error { return &Error{Reason: fmt.Sprintf(format, args...)} }

// New parses the JWKS and prepares a verifier. Errors name the key.
func New(o Options) (*Verifier, error) {
	v := &Verifier{opts: o}
	keys := gjson.GetBytes(o.JWKS, "keys")
	var err error
	keys.ForEach(func(i, k gjson.Result) bool {
		var key jwk
		key, err = parseJWK(k)
		if err != nil {
			err = fmt.Errorf("auth.jwks.keys[%d]: %w", i.Int(), err)
			return false
		}
		v.keys = append(v.keys, key)
		return true
	})
	if err != nil {
		return nil, err
	}
	if len(v.keys) == 0 && o.HS256Secret == nil {
		return nil, errors.New("auth: no verification key: give auth.jwks keys or auth.hs256_secret")
	}
	for _, alg := range []string{"RS256", "ES256"} {
		for _, k := range v.keys {
			if k.alg == alg {
				v.methods = append(v.methods, alg)
				break
			}
		}
	}
	if o.HS256Secret != nil {
		v.methods = append(v.methods, "HS256")
		if v.hs256, err = jwt.NewVerifierHS(jwt.HS256, o.HS256Secret); err != nil {
			return nil, fmt.Errorf("auth.hs256_secret: %w", err)
		}
	}
	return v, nil
}

func parseJWK(k gjson.Result) (jwk, error) {
	kty, alg, use := k.Get("kty").Str, k.Get("alg").Str, k.Get("use").Str
	if use != "" && use != "sig" {
		return jwk{}, fmt.Errorf("use %q: only signature keys are accepted", use)
	}
	out := jwk{kid: k.Get("kid").Str}
	switch kty {
	case "RSA":
		if alg != "" && alg != "RS256" {
			return jwk{}, fmt.Errorf("alg %q: RSA keys must be RS256", alg)
		}
		n, err1 := b64(k.Get("n").Str)
		e, err2 := b64(k.Get("e").Str)
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return jwk{}, errors.New("RSA key needs base64url n and e")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if bits := pub.N.BitLen(); bits < 2048 {
			return jwk{}, fmt.Errorf("RSA key of %d bits: at least 2048 required", bits)
		}
		if pub.E < 3 || pub.E%2 == 0 {
			return jwk{}, errors.New("RSA key has an invalid exponent")
		}
		out.alg = "RS256"
		out.verifier, _ = jwt.NewVerifierRS(jwt.RS256, pub)
	case "EC":
		if alg != "" && alg != "ES256" {
			return jwk{}, fmt.Errorf("alg %q: EC keys must be ES256", alg)
		}
		if crv := k.Get("crv").Str; crv != "P-256" {
			return jwk{}, fmt.Errorf("curve %q: only P-256 is accepted", crv)
		}
		x, err1 := b64(k.Get("x").Str)
		y, err2 := b64(k.Get("y").Str)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return jwk{}, errors.New("EC key needs 32-byte base64url x and y")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return jwk{}, fmt.Errorf("EC key is not on P-256: %w", err)
		}
		out.alg = "ES256"
		out.verifier, _ = jwt.NewVerifierES(jwt.ES256, pub)
	default:
		return jwk{}, fmt.Errorf("kty %q: only RSA and EC keys are accepted", kty)
	}
	return out, nil
}

func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// Verify checks header (the x-firmly-authorization value) at time now.
func (v *Verifier) Verify(header string, now time.Time) (*Claims, *Error) {
	token := strings.TrimSpace(header)
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	if token == "" {
		return nil, refuse("missing device token")
	}
	if strings.Count(token, ".") != 2 {
		return nil, refuse("malformed token")
	}
	// Name a refused algorithm before the library's generic error does.
	hdr, err := b64(token[:strings.IndexByte(token, '.')])
	if len(hdr) > 4096 {
		return nil, refuse("malformed token")
	}
	if err != nil || !gjson.ValidBytes(hdr) {
		return nil, refuse("malformed token")
	}
	if alg := gjson.GetBytes(hdr, "alg"); !slices.Contains(v.methods, alg.Str) {
		return nil, refuse("algorithm %q is not allowed", alg.Str)
	}
	verifiers, rerr := v.candidates(gjson.GetBytes(hdr, "alg").Str, gjson.GetBytes(hdr, "kid"))
	if rerr != nil {
		return nil, rerr
	}
	var tok *jwt.Token
	for _, ver := range verifiers {
		tok, err = jwt.Parse([]byte(token), ver)
		if err == nil || !errors.Is(err, jwt.ErrInvalidSignature) {
			break
		}
	}
	switch {
	case errors.Is(err, jwt.ErrInvalidSignature):
		return nil, refuse("invalid token signature")
	case err != nil:
		return nil, refuse("malformed token")
	}
	claims := map[string]any{}
	dec := json.NewDecoder(strings.NewReader(string(tok.Claims())))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, refuse("malformed token claims")
	}
	return v.checkClaims(claims, now)
}

// candidates are the verifiers a token of alg (and kid) may be checked with.
func (v *Verifier) candidates(alg string, kid gjson.Result) ([]jwt.Verifier, *Error) {
	if alg == "HS256" {
		// The HMAC secret only; a kid is ignored, so no JWKS key (whose
		// public material an attacker knows) can ever serve as a secret.
		return []jwt.Verifier{v.hs256}, nil
	}
	hasKid := kid.Exists()
	var out []jwt.Verifier
	for _, k := range v.keys {
		if k.alg == alg && (!hasKid || k.kid == kid.Str) {
			out = append(out, k.verifier)
		}
	}
	if len(out) == 0 {
		if hasKid {
			return nil, refuse("unknown key id for %s", alg)
		}
		return nil, refuse("no %s key is configured", alg)
	}
	return out, nil
}

func (v *Verifier) checkClaims(c map[string]any, now time.Time) (*Claims, *Error) {
	leeway := v.opts.Leeway
	exp, ok, bad := numericDate(c, "exp")
	switch {
	case bad:
		return nil, refuse("exp claim must be a number")
	case !ok:
		return nil, refuse("missing exp claim")
	case now.After(exp.Add(leeway)):
		return nil, refuse("token expired")
	}
	for _, name := range []string{"nbf", "iat"} {
		t, ok, bad := numericDate(c, name)
		if bad {
			return nil, refuse("%s claim must be a number", name)
		}
		if ok && t.After(now.Add(leeway)) {
			if name == "nbf" {
				return nil, refuse("token not valid yet")
			}
			return nil, refuse("token issued in the future")
		}
	}
	if v.opts.Issuer != "" {
		if iss, _ := c["iss"].(string); iss != v.opts.Issuer {
			return nil, refuse("issuer not allowed")
		}
	}
	if v.opts.Audience != "" && !hasAudience(c["aud"], v.opts.Audience) {
		return nil, refuse("audience not allowed")
	}
	dev, isStr := c["device_id"].(string)
	if _, present := c["device_id"]; !present {
		return nil, refuse("missing device_id claim")
	}
	if !isStr || !validDeviceID(dev) {
		return nil, refuse("device_id claim must be 1 to 256 characters of A-Z, a-z, 0-9, '_' and '-'")
	}
	out := &Claims{DeviceID: dev}
	if raw, present := c["app_id"]; present {
		app, isStr := raw.(string)
		if !isStr || app == "" {
			return nil, refuse("app_id claim must be a non-empty string")
		}
		out.AppID = app
	}
	if len(v.opts.AllowedAppIDs) > 0 {
		allowed := false
		for _, a := range v.opts.AllowedAppIDs {
			allowed = allowed || a == out.AppID
		}
		if !allowed {
			return nil, refuse("app not allowed")
		}
	}
	return out, nil
}

// numericDate reads a NumericDate claim: ok is false when absent, bad when
// not a number.
func numericDate(c map[string]any, name string) (t time.Time, ok, bad bool) {
	raw, present := c[name]
	if !present {
		return time.Time{}, false, false
	}
	n, isNum := raw.(interface{ Float64() (float64, error) })
	if !isNum {
		return time.Time{}, false, true
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e12 {
		return time.Time{}, false, true
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, false
}

func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

func validDeviceID(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

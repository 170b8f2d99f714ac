// Package auth verifies the device JWT of x-firmly-authorization (SPEC §2.2).
//
// The project owns the token parser (token.go): strict RFC 7515/7519 syntax
// on gjson, at least as strict as Envoy's jwt_authn. Signatures are checked
// with keys prepared once, when the key set is loaded: RS256 on
// filippo.io/bigmod (rsa.go), ES256 on filippo.io/nistec's P-256 (p256.go),
// HS256 with crypto/hmac and the configured secret only. JWKS keys are never
// HMAC secrets, and "none" or any other alg is never accepted.
//
// No JWT library: the ones that build for wasip1 without crypto/x509 (whose
// os.Stat import Envoy 1.33–1.38 lack) ignore crit, duplicate member names
// and non-canonical base64url, and decode claims into maps with
// encoding/json, which was a third of the module's cost per token.
package auth

import (
	"errors"
	"github.com/firmly/session-transfer-filter/internal/fmtlite"
	"github.com/firmly/session-transfer-filter/internal/sha256"
	"time"

	"github.com/tidwall/gjson"
)

// Options configure a Verifier.
type Options struct {
	JWKS          []byte // inline {"keys": [...]}; an invalid inline key refuses the start
	HS256Secret   []byte // nil: HS256 is not accepted
	Leeway        time.Duration
	Issuer        string // "": not checked
	Audience      string // "": not checked
	AllowedAppIDs []string
	MaxTokenBytes int  // 0 means the default 8192
	CacheEntries  int  // 0 disables the cache
	RemoteJWKS    bool // remote keys will come later: starting with no key at all is allowed
	// Delegated: a filter before this one verifies tokens (VerifyPayload);
	// no key is needed, and exp is checked only when present (SPEC §2.2c).
	Delegated bool
}

// Verifier checks device tokens. It keeps a cache and a remote key set, and
// is meant for one single-threaded VM: it is not safe for concurrent use.
type Verifier struct {
	opts   Options
	inline *KeySet
	remote *KeySet // nil until the first successful fetch
	hs256  *hs256Key
	cache  *tokenCache
	sum    [sha256.Size]byte
}

// Claims are what a valid token tells the filter.
type Claims struct {
	DeviceID string
	AppID    string // "" when the token has none
	Kid      string // the token's kid header, "" when it has none; DelegatedKid for a payload a filter before this one verified
}

// Error says why a token was refused; its text is safe to show the client
// (it never contains the token).
type Error struct {
	Reason string
	// Unavailable: the token is well formed but no key that could check it
	// is loaded yet (remote JWKS not fetched): 503, not 401.
	Unavailable bool
	// UnknownKid: a well-formed RS256/ES256 token names a kid that the
	// loaded remote set lacks; a refetch may bring it (SPEC §2.2b).
	UnknownKid bool
	// NoPayload: in delegated mode, no verified payload at all (no token,
	// or one the filter before this one let through unverified).
	NoPayload bool
	// Missing: there is no token at all (a bare "Bearer" prefix), so the
	// 401's challenge carries no error code (RFC 6750 §3.1).
	Missing bool
}

func (e *Error) Error() string { return e.Reason }

func refuse(format string, args ...any) *Error {
	return &Error{Reason: fmtlite.Sprintf(format, args...)}
}

// Result is the outcome of Verify: Claims on success, else Err.
type Result struct {
	Claims *Claims
	Err    *Error
	Cache  CacheOutcome
}

// New parses the inline JWKS and prepares a verifier. Errors name the key.
func New(o Options) (*Verifier, error) {
	if o.MaxTokenBytes == 0 {
		o.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if o.MaxTokenBytes < 0 || o.CacheEntries < 0 {
		return nil, errors.New("auth: negative token size or cache size")
	}
	v := &Verifier{opts: o, inline: &KeySet{}, cache: newTokenCache(o.CacheEntries)}
	if len(o.JWKS) > 0 {
		ks, err := parseKeys(o.JWKS, false, "auth.jwks.")
		if err != nil {
			return nil, err // already names auth.jwks.keys[N]
		}
		v.inline = ks
	}
	if o.HS256Secret != nil {
		v.hs256 = newHS256Key(o.HS256Secret)
	}
	if !v.HasKeys() && !o.RemoteJWKS && !o.Delegated {
		return nil, errors.New("auth: no verification key: give auth.jwks keys, auth.remote_jwks or auth.hs256_secret")
	}
	return v, nil
}

// SetRemoteKeys replaces the remote key set (inline keys always stay) and
// empties the cache, so no token is accepted on a key that left the set.
func (v *Verifier) SetRemoteKeys(k *KeySet) {
	v.remote = k
	if v.cache != nil {
		v.cache.clear()
	}
}

// HasKeys reports whether any key is loaded: inline, remote or the HS256
// secret.
func (v *Verifier) HasKeys() bool {
	return v.inline.Len() > 0 || v.remote.Len() > 0 || v.hs256 != nil
}

// Verify checks header (the x-firmly-authorization value) at time now.
func (v *Verifier) Verify(header string, now time.Time) Result {
	tok := trimToken(header)
	if tok == "" {
		return Result{Err: &Error{Reason: "missing device token", Missing: true}}
	}
	if len(tok) > v.opts.MaxTokenBytes {
		// Before any decoding or hashing.
		return Result{Err: refuse("token larger than %d bytes", v.opts.MaxTokenBytes)}
	}
	if v.cache != nil {
		if c, ok := v.cache.get(tok); ok {
			claims, err := v.checkClaims(c, now)
			if err != nil {
				v.cache.drop(tok)
			}
			return Result{Claims: claims, Err: err, Cache: CacheHit}
		}
	}
	out := CacheNone
	if v.cache != nil {
		out = CacheMiss
	}
	t, err := parseToken(tok)
	if err == nil {
		t.claims.kid = t.kid
		err = v.verifySignature(t)
	}
	if err != nil {
		return Result{Err: err, Cache: out}
	}
	claims, err := v.checkClaims(&t.claims, now)
	if err == nil && v.cache != nil {
		v.cache.add(tok, t.claims)
	}
	return Result{Claims: claims, Err: err, Cache: out}
}

func (v *Verifier) verifySignature(t *token) *Error {
	switch t.alg {
	case "HS256":
		if v.hs256 == nil {
			return refuse("algorithm %s is not allowed", algName(t.alg))
		}
		if len(t.sig) == 0 {
			return refuse("token signature is empty")
		}
		// The HMAC secret only; kid is ignored, so no JWKS key (whose
		// public material an attacker knows) can ever serve as a secret.
		if !v.hs256.verify([]byte(t.signingInput), t.sig) {
			return refuse("invalid token signature")
		}
		return nil
	case "RS256", "ES256":
	default:
		return refuse("algorithm %s is not allowed", algName(t.alg))
	}
	if len(t.sig) == 0 {
		return refuse("token signature is empty")
	}
	if t.alg == "ES256" && len(t.sig) != 64 {
		return refuse("invalid token signature: ES256 wants 64 bytes r||s, got %d", len(t.sig))
	}
	if !t.hasKid {
		// Without a kid every key of the alg could be the one: at most
		// maxKidlessKeys, so an unauthenticated request costs at most that
		// many signature checks.
		n := 0
		for _, ks := range [...]*KeySet{v.inline, v.remote} {
			for i := range ks.keysOrNil() {
				if ks.keys[i].alg == t.alg {
					n++
				}
			}
		}
		if n > maxKidlessKeys {
			return refuse("token has no kid and %d keys could have signed it", n)
		}
	}
	h := sha256.New()
	h.Write([]byte(t.signingInput))
	hashed := h.Sum(v.sum[:0])
	tried := 0
	for _, ks := range [...]*KeySet{v.inline, v.remote} {
		if ks == nil {
			continue
		}
		for i := range ks.keys {
			k := &ks.keys[i]
			if k.alg != t.alg || t.hasKid && k.kid != t.kid {
				continue
			}
			tried++
			if k.verify(hashed, t.sig) {
				return nil
			}
		}
	}
	switch {
	case tried > 0:
		return refuse("invalid token signature")
	case v.opts.RemoteJWKS && v.remote == nil:
		// The key may be in the remote set that has not arrived yet.
		return &Error{Reason: "device-token keys are not available yet", Unavailable: true}
	case t.hasKid:
		e := refuse("unknown key id for %s", t.alg)
		e.UnknownKid = v.opts.RemoteJWKS
		return e
	}
	return refuse("no %s key is configured", t.alg)
}

// checkClaims applies the claim rules; a cache hit runs exactly these.
func (v *Verifier) checkClaims(c *tokenClaims, now time.Time) (*Claims, *Error) {
	leeway := v.opts.Leeway
	switch {
	case !c.exp.present && !v.opts.Delegated:
		return nil, refuse("missing exp claim")
	case c.exp.present && now.After(c.exp.time().Add(leeway)):
		return nil, refuse("token expired")
	case c.nbf.present && c.nbf.time().After(now.Add(leeway)):
		return nil, refuse("token not valid yet")
	case c.iat.present && c.iat.time().After(now.Add(leeway)):
		return nil, refuse("token issued in the future")
	}
	if v.opts.Issuer != "" && (!c.iss.isString || c.iss.s != v.opts.Issuer) {
		return nil, refuse("issuer not allowed")
	}
	if v.opts.Audience != "" && !hasAudience(c.aud, v.opts.Audience) {
		return nil, refuse("audience not allowed")
	}
	switch {
	case !c.deviceID.present:
		return nil, refuse("missing device_id claim")
	case !c.deviceID.isString || !validDeviceID(c.deviceID.s):
		return nil, refuse("device_id claim must be 1 to 256 characters of A-Z, a-z, 0-9, '_' and '-'")
	}
	out := &Claims{DeviceID: c.deviceID.s, Kid: c.kid}
	if c.appID.present {
		if !c.appID.isString || c.appID.s == "" {
			return nil, refuse("app_id claim must be a non-empty string")
		}
		out.AppID = c.appID.s
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

// time converts seconds since the epoch (fractions kept, to the nanosecond).
func (d numericDate) time() time.Time {
	sec := int64(d.sec)
	return time.Unix(sec, int64((d.sec-float64(sec))*1e9))
}

// hasAudience: aud is a string equal to want, or an array holding it.
func hasAudience(raw, want string) bool {
	if raw == "" {
		return false
	}
	aud := gjson.Parse(raw)
	switch {
	case aud.Type == gjson.String:
		return aud.Str == want
	case aud.IsArray():
		found := false
		aud.ForEach(func(_, x gjson.Result) bool {
			found = x.Type == gjson.String && x.Str == want
			return !found
		})
		return found
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

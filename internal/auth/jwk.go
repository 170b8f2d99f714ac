package auth

import (
	"errors"
	"github.com/firmly/session-transfer-filter/internal/fmtlite"

	"github.com/tidwall/gjson"

	"github.com/firmly/session-transfer-filter/internal/strictjson"
)

// KeySet is a prepared set of RS256 and ES256 keys: RSA moduli with their
// Montgomery constants, P-256 points checked on the curve. It is immutable.
type KeySet struct {
	keys    []key
	skipped []SkippedKey
}

func (k *KeySet) keysOrNil() []key {
	if k == nil {
		return nil
	}
	return k.keys
}

// Len is the number of keys.
func (k *KeySet) Len() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

// key is one JWKS key; exactly one of rsa and ec is set.
type key struct {
	kid string
	alg string // RS256 or ES256
	rsa *rsaKey
	ec  *ecKey
}

func (k *key) verify(hashed, sig []byte) bool {
	if k.rsa != nil {
		return k.rsa.verify(hashed, sig)
	}
	return k.ec.verify(hashed, sig)
}

// MaxKeys bounds the usable keys of one set, inline or remote (SPEC §2.2):
// with the kid-less limit it bounds what a request can cost.
const MaxKeys = 16

// maxKidlessKeys is how many keys of its algorithm a token without a kid
// may be tried against (SPEC §2.2).
const maxKidlessKeys = 4

// SkippedKey is a remote key that breaks a key rule: it is left out of the
// set, and the plugin logs it and counts it.
type SkippedKey struct {
	// Name is the key's kid, quoted, or its index ("keys[3]") when it has
	// no usable kid.
	Name  string
	Cause string
}

// Skipped lists the keys of a remote answer that were left out.
func (k *KeySet) Skipped() []SkippedKey {
	if k == nil {
		return nil
	}
	return k.skipped
}

// parseJWK prepares one key, or says which key rule of SPEC §2.2 it breaks.
// Inline, an error refuses the configuration; remote, it skips the key.
func parseJWK(k gjson.Result) (key, error) {
	if !k.IsObject() {
		return key{}, errors.New("must be a JSON object")
	}
	kty, alg, use := k.Get("kty"), k.Get("alg"), k.Get("use")
	if use.Exists() && (use.Type != gjson.String || use.Str != "sig") {
		return key{}, fmtlite.Errorf("use %s: only signature keys are accepted", algName(use.String()))
	}
	if ops := k.Get("key_ops"); ops.Exists() {
		verify := false
		if !ops.IsArray() {
			return key{}, errors.New("key_ops must be an array")
		}
		ops.ForEach(func(_, op gjson.Result) bool {
			verify = verify || op.Type == gjson.String && op.Str == "verify"
			return !verify
		})
		if !verify {
			return key{}, errors.New(`key_ops does not allow "verify"`)
		}
	}
	kid := k.Get("kid")
	if kid.Exists() && kid.Type != gjson.String {
		return key{}, errors.New("kid must be a string")
	}
	out := key{kid: kid.Str}
	switch kty.Str {
	case "RSA":
		if alg.Exists() && alg.Str != "RS256" {
			return key{}, fmtlite.Errorf("alg %s: RSA keys must be RS256", algName(alg.Str))
		}
		n, ok1 := decodeSegment(k.Get("n").Str)
		e, ok2 := decodeSegment(k.Get("e").Str)
		if !ok1 || !ok2 || len(n) == 0 || len(e) == 0 {
			return key{}, errors.New("RSA key needs canonical base64url n and e")
		}
		rk, err := newRSAKey(n, e)
		if err != nil {
			return key{}, err
		}
		out.alg, out.rsa = "RS256", rk
	case "EC":
		if alg.Exists() && alg.Str != "ES256" {
			return key{}, fmtlite.Errorf("alg %s: EC keys must be ES256", algName(alg.Str))
		}
		if crv := k.Get("crv").Str; crv != "P-256" {
			return key{}, fmtlite.Errorf("curve %s: only P-256 is accepted", algName(crv))
		}
		x, ok1 := decodeSegment(k.Get("x").Str)
		y, ok2 := decodeSegment(k.Get("y").Str)
		if !ok1 || !ok2 || len(x) != 32 || len(y) != 32 {
			return key{}, errors.New("EC key needs 32-byte canonical base64url x and y")
		}
		ek, err := newECKey(x, y)
		if err != nil {
			return key{}, err
		}
		out.alg, out.ec = "ES256", ek
	default:
		return key{}, fmtlite.Errorf("kty %s: only RSA and EC keys are accepted", algName(kty.Str))
	}
	return out, nil
}

// jwksRules: a JWKS is read as strictly as a token (SPEC §2.2b).
var jwksRules = strictjson.Options{MaxDepth: 32}

// parseKeys reads {"keys": [...]}. Inline (remote false), a key that breaks
// a rule is an error naming it by index; remote, it is skipped and listed.
// More than MaxKeys usable keys is an error either way.
func parseKeys(jwks []byte, remote bool, prefix string) (*KeySet, error) {
	switch r := strictjson.Check(jwks, jwksRules); r.Kind {
	case strictjson.NotUTF8:
		return nil, errors.New("not valid UTF-8")
	case strictjson.Syntax:
		return nil, errors.New("not valid JSON")
	case strictjson.TooDeep:
		return nil, fmtlite.Errorf("nested deeper than %d", jwksRules.MaxDepth)
	case strictjson.Duplicate:
		return nil, errors.New("duplicate member name")
	}
	root := gjson.ParseBytes(jwks)
	keys := root.Get("keys")
	if !root.IsObject() || !keys.IsArray() {
		return nil, errors.New(`must be a JSON object {"keys": [...]}`)
	}
	ks := &KeySet{}
	var err error
	i := 0
	keys.ForEach(func(_, k gjson.Result) bool {
		kk, kerr := parseJWK(k)
		switch {
		case kerr != nil && remote:
			ks.skipped = append(ks.skipped, SkippedKey{Name: keyName(k, i), Cause: kerr.Error()})
		case kerr != nil:
			err = fmtlite.Errorf("%skeys[%d]: %w", prefix, i, kerr)
			return false
		default:
			ks.keys = append(ks.keys, kk)
		}
		i++
		return true
	})
	if err != nil {
		return nil, err
	}
	if ks.Len() > MaxKeys {
		return nil, fmtlite.Errorf("%skeys: %d usable keys, at most %d are accepted", prefix, ks.Len(), MaxKeys)
	}
	return ks, nil
}

// keyName names a key in a log line: its kid when it is short visible
// ASCII, else its index. Never more of the key's text.
func keyName(k gjson.Result, i int) string {
	if kid := k.Get("kid"); kid.Type == gjson.String && kid.Str != "" && len(kid.Str) <= 64 {
		ok := true
		for j := 0; j < len(kid.Str); j++ {
			ok = ok && kid.Str[j] > 0x20 && kid.Str[j] < 0x7f && kid.Str[j] != '"'
		}
		if ok {
			return fmtlite.Sprintf("kid %q", kid.Str)
		}
	}
	return fmtlite.Sprintf("keys[%d]", i)
}

// MaxRemoteJWKSBytes bounds a usable remote JWKS answer (SPEC §2.2b).
const MaxRemoteJWKSBytes = 64 << 10

// ParseRemoteJWKS applies SPEC §2.2b's rules to a fetched answer body: at
// most 64 KiB, one JSON object in valid UTF-8 without duplicate member
// names at any depth, with a "keys" array. Each key that breaks a key rule
// (another kty, use other than "sig", key_ops without "verify", RSA
// outside 2048-4096 bits or exponent not 65537, EC not P-256, malformed
// members) is skipped and listed in KeySet.Skipped, so one odd key never
// holds a rotation back. No usable key, or more than MaxKeys, is an error.
// Errors never echo the body.
func ParseRemoteJWKS(body []byte) (*KeySet, error) {
	if len(body) > MaxRemoteJWKSBytes {
		return nil, fmtlite.Errorf("remote JWKS: answer larger than %d bytes", MaxRemoteJWKSBytes)
	}
	ks, err := parseKeys(body, true, "")
	if err != nil {
		return nil, fmtlite.Errorf("remote JWKS: %w", err)
	}
	if ks.Len() == 0 {
		return nil, fmtlite.Errorf("remote JWKS: no usable RS256 or ES256 key (%d skipped)", len(ks.skipped))
	}
	return ks, nil
}

package auth

import (
	"errors"
	"fmt"

	"github.com/tidwall/gjson"
)

// KeySet is a prepared set of RS256 and ES256 keys: RSA moduli with their
// Montgomery constants, P-256 points checked on the curve. It is immutable.
type KeySet struct {
	keys []key
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

// errSkip marks a remote key that is not for this filter (another kty, use
// or alg): skipped rather than refused.
var errSkip = errors.New("skipped")

// parseJWK prepares one key. With remote, keys not meant for RS256/ES256
// signatures are skipped (errSkip); inline, they are configuration errors.
func parseJWK(k gjson.Result, remote bool) (key, error) {
	if !k.IsObject() {
		return key{}, errors.New("must be a JSON object")
	}
	kty, alg, use := k.Get("kty"), k.Get("alg"), k.Get("use")
	skip := func(err error) (key, error) {
		if remote {
			return key{}, errSkip
		}
		return key{}, err
	}
	if use.Exists() && use.Str != "sig" {
		return skip(fmt.Errorf("use %s: only signature keys are accepted", algName(use.Str)))
	}
	kid := k.Get("kid")
	if kid.Exists() && kid.Type != gjson.String {
		return key{}, errors.New("kid must be a string")
	}
	out := key{kid: kid.Str}
	switch kty.Str {
	case "RSA":
		if alg.Exists() && alg.Str != "RS256" {
			return skip(fmt.Errorf("alg %s: RSA keys must be RS256", algName(alg.Str)))
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
			return skip(fmt.Errorf("alg %s: EC keys must be ES256", algName(alg.Str)))
		}
		if crv := k.Get("crv").Str; crv != "P-256" {
			return key{}, fmt.Errorf("curve %s: only P-256 is accepted", algName(crv))
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
		return skip(fmt.Errorf("kty %s: only RSA and EC keys are accepted", algName(kty.Str)))
	}
	return out, nil
}

// parseKeys reads {"keys": [...]}; errors name the key by index.
func parseKeys(jwks []byte, remote bool, prefix string) (*KeySet, error) {
	if !gjson.ValidBytes(jwks) {
		return nil, errors.New("not valid JSON")
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
		var kk key
		kk, err = parseJWK(k, remote)
		switch {
		case err == errSkip:
			err = nil
		case err != nil:
			err = fmt.Errorf("%skeys[%d]: %w", prefix, i, err)
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
	return ks, nil
}

// ParseRemoteJWKS applies SPEC §2.2b's rules to a fetched answer body: a
// JSON object with a "keys" array; keys of another kty, with use other than
// "sig", or with an alg other than RS256/ES256 are skipped; an RSA or EC key
// that is meant for us but breaks a rule (RSA under 2048 bits, a curve other
// than P-256, a point off the curve) fails the whole answer, as it would
// refuse an inline configuration; no usable key is an error. Errors never
// echo the body.
func ParseRemoteJWKS(body []byte) (*KeySet, error) {
	ks, err := parseKeys(body, true, "")
	if err != nil {
		return nil, fmt.Errorf("remote JWKS: %w", err)
	}
	if ks.Len() == 0 {
		return nil, errors.New("remote JWKS: no usable RS256 or ES256 key")
	}
	return ks, nil
}

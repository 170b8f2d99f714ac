package auth

import (
	"strings"
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	keys(t)
	tok := sign(t, "RS256", "rsa-1", claims(nil))
	t.Run("a second use is a hit with the same claims", func(t *testing.T) {
		v := verifier(t, Options{CacheEntries: 4})
		first, second := v.Verify(tok, now), v.Verify("Bearer "+tok, now)
		if first.Cache != CacheMiss || second.Cache != CacheHit {
			t.Errorf("got %v then %v, want miss then hit", first.Cache, second.Cache)
		}
		if second.Err != nil || *second.Claims != *first.Claims {
			t.Errorf("got %+v, want the claims %+v", second, first.Claims)
		}
	})
	t.Run("a disabled cache is never consulted", func(t *testing.T) {
		v := verifier(t, Options{})
		for i := 0; i < 2; i++ {
			if res := v.Verify(tok, now); res.Cache != CacheNone || res.Err != nil {
				t.Errorf("got %+v, want CacheNone and accepted", res)
			}
		}
	})
	t.Run("time claims are re-checked on every hit", func(t *testing.T) {
		v := verifier(t, Options{CacheEntries: 4, Leeway: 30 * time.Second})
		short := sign(t, "RS256", "rsa-1", claims(map[string]any{"exp": now.Add(time.Minute).Unix()}))
		if res := v.Verify(short, now); res.Err != nil {
			t.Fatal(res.Err)
		}
		res := v.Verify(short, now.Add(time.Minute+31*time.Second))
		if res.Cache != CacheHit || res.Err == nil || res.Err.Reason != "token expired" {
			t.Errorf("got %+v, want a hit refused as expired", res)
		}
		if res := v.Verify(short, now); res.Cache != CacheMiss {
			t.Errorf("got %v, want the expired entry dropped (a miss)", res.Cache)
		}
	})
	t.Run("a token not valid yet is not cached and then accepted once valid", func(t *testing.T) {
		v := verifier(t, Options{CacheEntries: 4})
		later := sign(t, "RS256", "rsa-1", claims(map[string]any{"nbf": now.Add(time.Hour).Unix()}))
		if res := v.Verify(later, now); res.Err == nil || res.Cache != CacheMiss {
			t.Fatalf("got %+v, want refused on a miss", res)
		}
		if res := v.Verify(later, now.Add(time.Hour)); res.Err != nil || res.Cache != CacheMiss {
			t.Errorf("got %+v, want accepted on a miss (failures are not cached)", res)
		}
	})
	t.Run("failures are never cached", func(t *testing.T) {
		v := verifier(t, Options{CacheEntries: 4})
		bad := tamper(tok)
		for i := 0; i < 3; i++ {
			if res := v.Verify(bad, now); res.Cache != CacheMiss || res.Err == nil {
				t.Errorf("got %+v, want a refused miss", res)
			}
		}
		if v.cache.len() != 0 {
			t.Errorf("got %d entries, want 0", v.cache.len())
		}
	})
	t.Run("the entry bound evicts the least recently used", func(t *testing.T) {
		v := verifier(t, Options{CacheEntries: 2})
		a, b, c := tok, sign(t, "ES256", "ec-1", claims(nil)), sign(t, "RS256", "", claims(nil))
		v.Verify(a, now)
		v.Verify(b, now)
		v.Verify(a, now) // a is now the most recent
		v.Verify(c, now) // evicts b
		if v.cache.len() != 2 {
			t.Errorf("got %d entries, want 2", v.cache.len())
		}
		if res := v.Verify(a, now); res.Cache != CacheHit {
			t.Errorf("got %v for a, want a hit", res.Cache)
		}
		if res := v.Verify(b, now); res.Cache != CacheMiss {
			t.Errorf("got %v for b, want a miss (evicted)", res.Cache)
		}
	})
	t.Run("the byte bound holds 1 MiB of tokens at most", func(t *testing.T) {
		v := verifier(t, Options{CacheEntries: 65536, MaxTokenBytes: 65536, HS256Secret: []byte(hsSecret)})
		pad := strings.Repeat("p", 40000) // about 53 KB once encoded
		for i := 0; i < 20; i++ {
			v.Verify(sign(t, "HS256", "", claims(map[string]any{"pad": pad, "n": i})), now)
		}
		if v.cache.bytes > maxCacheBytes || v.cache.len() == 0 || v.cache.len() >= 20 {
			t.Errorf("got %d entries, %d bytes; want under %d bytes", v.cache.len(), v.cache.bytes, maxCacheBytes)
		}
	})
	t.Run("new remote keys empty the cache", func(t *testing.T) {
		v := verifier(t, Options{CacheEntries: 4, JWKS: []byte(`{"keys":[]}`), RemoteJWKS: true})
		ks, err := ParseRemoteJWKS([]byte(`{"keys":[` + ecJWK("ec-1", ecPriv) + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		v.SetRemoteKeys(ks)
		es := sign(t, "ES256", "ec-1", claims(nil))
		v.Verify(es, now)
		if res := v.Verify(es, now); res.Cache != CacheHit {
			t.Fatalf("got %v, want a hit before rotation", res.Cache)
		}
		rotated, _ := ParseRemoteJWKS([]byte(`{"keys":[` + ecJWK("ec-2", ecPrivOld) + `]}`))
		v.SetRemoteKeys(rotated)
		if res := v.Verify(es, now); res.Cache != CacheMiss || res.Err == nil || res.Err.Reason != "unknown key id for ES256" {
			t.Errorf("got %+v, want a miss refused: the key left the set", res)
		}
	})
}

func TestRemoteKeys(t *testing.T) {
	keys(t)
	es := sign(t, "ES256", "ec-1", claims(nil))
	t.Run("a verifier with remote_jwks may start with no key", func(t *testing.T) {
		v, err := New(Options{RemoteJWKS: true})
		if err != nil {
			t.Fatal(err)
		}
		if v.HasKeys() {
			t.Error("got HasKeys true, want false")
		}
		res := v.Verify(es, now)
		if res.Err == nil || !res.Err.Unavailable || res.Err.Reason != "device-token keys are not available yet" {
			t.Errorf("got %+v, want Unavailable", res.Err)
		}
		if res := v.Verify("", now); res.Err == nil || res.Err.Unavailable {
			t.Errorf("got %+v, want a missing token refused (401), not unavailable", res.Err)
		}
		if res := v.Verify("x.y", now); res.Err == nil || res.Err.Unavailable {
			t.Errorf("got %+v, want a malformed token refused (401), not unavailable", res.Err)
		}
	})
	t.Run("without remote_jwks no key refuses the start", func(t *testing.T) {
		if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "no verification key") {
			t.Errorf("got %v, want no verification key", err)
		}
	})
	t.Run("remote keys are added to inline keys, which always stay", func(t *testing.T) {
		v := verifier(t, Options{RemoteJWKS: true, JWKS: []byte(`{"keys":[` + rsaJWK("rsa-1", rsaPriv) + `]}`)})
		rs := sign(t, "RS256", "rsa-1", claims(nil))
		if res := v.Verify(es, now); res.Err == nil || !res.Err.Unavailable {
			t.Errorf("got %+v, want Unavailable until the remote set arrives", res.Err)
		}
		ks, err := ParseRemoteJWKS([]byte(`{"keys":[` + ecJWK("ec-1", ecPriv) + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		v.SetRemoteKeys(ks)
		for _, tok := range []string{rs, es} {
			if res := v.Verify(tok, now); res.Err != nil {
				t.Errorf("got %v, want accepted", res.Err)
			}
		}
		if res := v.Verify(sign(t, "ES256", "nope", claims(nil)), now); res.Err == nil || res.Err.Unavailable {
			t.Errorf("got %+v, want an unknown kid refused once a set is loaded", res.Err)
		}
	})
}

func TestParseRemoteJWKS(t *testing.T) {
	keys(t)
	for _, c := range []struct {
		name, body string
		keys       int
		err        string
	}{
		{"RSA and EC keys", `{"keys":[` + rsaJWK("r", rsaPriv) + `,` + ecJWK("e", ecPriv) + `]}`, 2, ""},
		{"other kty, use and alg are skipped", `{"keys":[{"kty":"oct","k":"AA"},{"kty":"OKP","crv":"Ed25519","x":"AA"},` +
			`{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"},{"kty":"RSA","alg":"RS512","n":"AQAB","e":"AQAB"},` + ecJWK("e", ecPriv) + `]}`, 1, ""},
		{"only skipped keys", `{"keys":[{"kty":"oct","k":"AA"}]}`, 0, "no usable RS256 or ES256 key"},
		{"no keys", `{"keys":[]}`, 0, "no usable"},
		{"a weak RSA key is skipped", `{"keys":[` + rsaJWK("s", smallRSA) + `,` + ecJWK("e", ecPriv) + `]}`, 1, ""},
		{"an EC key on P-384 alone is no usable key", `{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]}`, 0, "no usable RS256 or ES256 key (1 skipped)"},
		{"key_ops without verify is skipped", `{"keys":[` + strings.Replace(ecJWK("x", ecPriv), `"kty"`, `"key_ops":["encrypt"],"kty"`, 1) + `,` + ecJWK("e", ecPriv) + `]}`, 1, ""},
		{"key_ops with verify is usable", `{"keys":[` + strings.Replace(ecJWK("x", ecPriv), `"kty"`, `"key_ops":["sign","verify"],"kty"`, 1) + `]}`, 1, ""},
		{"16 usable keys", `{"keys":[` + strings.Repeat(ecJWK("e", ecPriv)+`,`, 15) + ecJWK("e", ecPriv) + `]}`, 16, ""},
		{"17 usable keys fail the answer", `{"keys":[` + strings.Repeat(ecJWK("e", ecPriv)+`,`, 16) + ecJWK("e", ecPriv) + `]}`, 0, "17 usable keys, at most 16"},
		{"a repeated keys member fails the answer", `{"keys":[` + ecJWK("e", ecPriv) + `],"keys":[]}`, 0, "duplicate member name"},
		{"a duplicate inside a key fails the answer", `{"keys":[` + strings.Replace(ecJWK("e", ecPriv), `"kty":"EC"`, `"kty":"EC","kty":"EC"`, 1) + `]}`, 0, "duplicate member name"},
		{"invalid UTF-8 fails the answer", "{\"keys\":[" + ecJWK("e", ecPriv) + "],\"x\":\"\xff\"}", 0, "not valid UTF-8"},
		{"not JSON", `<html>secret-page</html>`, 0, "not valid JSON"},
		{"keys not an array", `{"keys":{}}`, 0, `{"keys": [...]}`},
		{"an array", `[]`, 0, `{"keys": [...]}`},
		{"an answer over 64 KiB", `{"keys":[` + ecJWK("e", ecPriv) + `],"pad":"` + strings.Repeat("x", 64<<10) + `"}`, 0, "larger than 65536 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ks, err := ParseRemoteJWKS([]byte(c.body))
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("got %v, want %d keys", err, c.keys)
			case c.err == "" && ks.Len() != c.keys:
				t.Errorf("got %d keys, want %d", ks.Len(), c.keys)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Errorf("got %v, want %q", err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret-page") {
				t.Errorf("the error echoes the body: %v", err)
			}
		})
	}
}

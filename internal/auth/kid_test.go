package auth

import "testing"

// The token's kid reaches Claims (for the filter state), from the cache as
// well; an unknown kid is marked for a refetch only once a remote set is
// loaded (SPEC §2.2b).
func TestKidAndUnknownKid(t *testing.T) {
	keys(t)
	v := verifier(t, Options{RemoteJWKS: true, CacheEntries: 4, JWKS: []byte(`{"keys":[` + rsaJWK("rsa-1", rsaPriv) + `]}`)})
	unknown := sign(t, "ES256", "ec-new", claims(nil))
	if res := v.Verify(unknown, now); res.Err == nil || !res.Err.Unavailable || res.Err.UnknownKid {
		t.Fatalf("before the remote set: got %+v, want Unavailable, not UnknownKid", res.Err)
	}
	ks, err := ParseRemoteJWKS([]byte(`{"keys":[` + ecJWK("ec-1", ecPriv) + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	v.SetRemoteKeys(ks)
	if res := v.Verify(unknown, now); res.Err == nil || !res.Err.UnknownKid || res.Err.Unavailable {
		t.Errorf("after the remote set: got %+v, want UnknownKid", res.Err)
	}
	for _, c := range []struct {
		tok, kid string
	}{{sign(t, "ES256", "ec-1", claims(nil)), "ec-1"}, {sign(t, "RS256", "rsa-1", claims(nil)), "rsa-1"}, {sign(t, "ES256", "", claims(nil)), ""}} {
		for _, want := range []CacheOutcome{CacheMiss, CacheHit} {
			res := v.Verify(c.tok, now)
			if res.Err != nil || res.Cache != want || res.Claims.Kid != c.kid {
				t.Errorf("got %+v %+v (cache %v), want kid %q (cache %v)", res.Err, res.Claims, res.Cache, c.kid, want)
			}
		}
	}
	inlineOnly := verifier(t, Options{JWKS: []byte(`{"keys":[` + rsaJWK("rsa-1", rsaPriv) + `]}`)})
	if res := inlineOnly.Verify(sign(t, "RS256", "rsa-2", claims(nil)), now); res.Err == nil || res.Err.UnknownKid {
		t.Errorf("without remote_jwks: got %+v, want a plain 401", res.Err)
	}
}

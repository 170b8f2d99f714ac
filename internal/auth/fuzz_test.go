package auth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// Properties of the token parser: it never panics; refusal is
// deterministic (same input, same reason); an accepted token re-encodes to
// exactly its input (one spelling per token); and the verifier with a cache
// answers exactly as the one without.
func FuzzParse(f *testing.F) {
	keys(f)
	for _, tok := range []string{
		sign(f, "RS256", "rsa-1", claims(nil)),
		sign(f, "ES256", "ec-1", claims(nil)),
		sign(f, "HS256", "", claims(nil)),
		signRaw(f, "HS256", `{"alg":"HS256","crit":["b64"]}`, `{"a":{"b":[1,{"c":2}]}}`),
		signRaw(f, "HS256", `{"alg":"HS256"}`, `{"exp":1e400,"device_id":"d"}`),
		"e30.e30.AA", "..", "a.b.c.d", "Bearer x.y.z",
	} {
		f.Add(tok)
	}
	plain := verifier(f, Options{HS256Secret: []byte(hsSecret), Leeway: 30 * time.Second})
	cached := verifier(f, Options{HS256Secret: []byte(hsSecret), Leeway: 30 * time.Second, CacheEntries: 8})
	f.Fuzz(func(t *testing.T, in string) {
		tok := trimToken(in)
		p1, e1 := parseToken(tok)
		p2, e2 := parseToken(tok)
		if (e1 == nil) != (e2 == nil) || e1 != nil && e1.Reason != e2.Reason {
			t.Fatalf("not deterministic: %v then %v", e1, e2)
		}
		if e1 == nil {
			parts := strings.Split(tok, ".")
			hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
			pl, _ := base64.RawURLEncoding.DecodeString(parts[1])
			re := b64u(hdr) + "." + b64u(pl) + "." + b64u(p1.sig)
			if re != tok || p1.signingInput != p2.signingInput {
				t.Fatalf("accepted token does not re-encode to its input:\n got %q\nwant %q", re, tok)
			}
		}
		for i := 0; i < 2; i++ {
			a, b := plain.Verify(in, now), cached.Verify(in, now)
			if (a.Err == nil) != (b.Err == nil) || a.Err != nil && (a.Err.Reason != b.Err.Reason || a.Err.Unavailable != b.Err.Unavailable) ||
				a.Claims != nil && *a.Claims != *b.Claims {
				t.Fatalf("cache changed the outcome: %+v vs %+v", a, b)
			}
		}
	})
}

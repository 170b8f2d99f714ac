package auth

import (
	"testing"
)

// Native verification cost per algorithm, and a cache hit. Compare as ratios
// within one run: go test ./internal/auth -run X -bench Verify.
func BenchmarkVerify(b *testing.B) {
	for _, c := range []struct {
		name, alg, kid string
		cache          int
	}{
		{"RS256", "RS256", "rsa-1", 0}, {"ES256", "ES256", "ec-1", 0}, {"HS256", "HS256", "", 0},
		{"RS256-cache-hit", "RS256", "rsa-1", 1024},
	} {
		b.Run(c.name, func(b *testing.B) {
			v := verifier(b, Options{HS256Secret: []byte(hsSecret), CacheEntries: c.cache})
			tok := sign(b, c.alg, c.kid, claims(nil))
			b.ReportAllocs()
			for b.Loop() {
				if res := v.Verify(tok, now); res.Err != nil {
					b.Fatal(res.Err)
				}
			}
		})
	}
}

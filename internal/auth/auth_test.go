package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cristalhq/jwt/v4"
)

var (
	once     sync.Once
	rsaKey   *rsa.PrivateKey
	rsaKey2  *rsa.PrivateKey
	smallRSA *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
)

const hsSecret = "hs256-secret-0123456789abcdef0123456789"

func keys(t testing.TB) {
	once.Do(func() {
		rsaKey, _ = rsa.GenerateKey(rand.Reader, 2048)
		rsaKey2, _ = rsa.GenerateKey(rand.Reader, 2048)
		smallRSA, _ = rsa.GenerateKey(rand.Reader, 1024)
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PrivateKey) string {
	return fmt.Sprintf(`{"kty":"RSA","kid":%q,"alg":"RS256","n":%q,"e":%q}`, kid, b64u(k.N.Bytes()), b64u(big.NewInt(int64(k.E)).Bytes()))
}

func ecJWK(kid string, k *ecdsa.PrivateKey) string {
	pad := func(b []byte) []byte { return append(make([]byte, 32-len(b)), b...) }
	return fmt.Sprintf(`{"kty":"EC","kid":%q,"crv":"P-256","x":%q,"y":%q}`, kid, b64u(pad(k.X.Bytes())), b64u(pad(k.Y.Bytes())))
}

var now = time.Unix(1_800_000_000, 0)

func claims(over map[string]any) map[string]any {
	c := map[string]any{"device_id": "dev-1", "app_id": "app-1", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "iss": "firmly", "aud": "transfer"}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func sign(t testing.TB, alg, kid string, c map[string]any) string {
	var s jwt.Signer
	switch alg {
	case "RS256":
		s, _ = jwt.NewSignerRS(jwt.RS256, rsaKey)
	case "RS256-other":
		s, _ = jwt.NewSignerRS(jwt.RS256, rsaKey2)
	case "ES256":
		s, _ = jwt.NewSignerES(jwt.ES256, ecKey)
	case "HS256":
		s, _ = jwt.NewSignerHS(jwt.HS256, []byte(hsSecret))
	}
	var opts []jwt.BuilderOption
	if kid != "" {
		opts = append(opts, jwt.WithKeyID(kid))
	}
	tok, err := jwt.NewBuilder(s, opts...).Build(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

// raw builds a token by hand: for alg none and HMAC-confusion attacks.
func raw(header map[string]any, c map[string]any, key []byte) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(c)
	in := b64u(h) + "." + b64u(p)
	if key == nil {
		return in + "."
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + b64u(m.Sum(nil))
}

func verifier(t testing.TB, o Options) *Verifier {
	keys(t)
	if o.JWKS == nil {
		o.JWKS = []byte(`{"keys":[` + rsaJWK("rsa-1", rsaKey) + `,` + ecJWK("ec-1", ecKey) + `]}`)
	}
	v, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	keys(t)
	full := Options{HS256Secret: []byte(hsSecret), Leeway: 30 * time.Second, Issuer: "firmly", Audience: "transfer", AllowedAppIDs: []string{"app-1"}}
	rsaPub, _ := json.Marshal(rsaKey.PublicKey.N.Bytes())
	for _, c := range []struct {
		name  string
		opts  Options
		token string
		want  string // "" = accepted
	}{
		{"RS256 with kid", full, sign(t, "RS256", "rsa-1", claims(nil)), ""},
		{"RS256 without kid tries the RS256 keys", full, sign(t, "RS256", "", claims(nil)), ""},
		{"ES256 with kid", full, sign(t, "ES256", "ec-1", claims(nil)), ""},
		{"HS256 with the configured secret", full, sign(t, "HS256", "", claims(nil)), ""},
		{"HS256 ignores kid", full, sign(t, "HS256", "rsa-1", claims(nil)), ""},
		{"Bearer prefix", full, "Bearer " + sign(t, "RS256", "rsa-1", claims(nil)), ""},
		{"audience in an array", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"aud": []string{"x", "transfer"}})), ""},
		{"expired within leeway", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"exp": now.Add(-20 * time.Second).Unix()})), ""},
		{"no app_id without allow-list", Options{HS256Secret: []byte(hsSecret)}, sign(t, "HS256", "", claims(map[string]any{"app_id": nil})), ""},

		{"empty", full, "", "missing device token"},
		{"not three parts", full, "abc.def", "malformed token"},
		{"garbage header", full, "!!!.e30.x", "malformed token"},
		{"alg none", full, raw(map[string]any{"alg": "none", "typ": "JWT"}, claims(nil), nil), `algorithm "none" is not allowed`},
		{"alg None", full, raw(map[string]any{"alg": "None"}, claims(nil), nil), `algorithm "None" is not allowed`},
		{"alg RS512", full, raw(map[string]any{"alg": "RS512"}, claims(nil), []byte("x")), `algorithm "RS512" is not allowed`},
		{"HS256 without a configured secret", Options{}, sign(t, "HS256", "", claims(nil)), `algorithm "HS256" is not allowed`},
		{"HS256 signed with the RSA public key (confusion)", full,
			raw(map[string]any{"alg": "HS256", "kid": "rsa-1"}, claims(nil), rsaPub), "invalid token signature"},
		{"RS256 naming the EC key", full, sign(t, "RS256", "ec-1", claims(nil)), "unknown key id for RS256"},
		{"unknown kid", full, sign(t, "RS256", "nope", claims(nil)), "unknown key id for RS256"},
		{"signed by another key", full, sign(t, "RS256-other", "rsa-1", claims(nil)), "invalid token signature"},
		{"tampered payload", full, tamper(sign(t, "RS256", "rsa-1", claims(nil))), "invalid token signature"},
		{"expired", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"exp": now.Add(-31 * time.Second).Unix()})), "token expired"},
		{"no exp", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"exp": nil})), "missing exp claim"},
		{"exp not a number", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"exp": "tomorrow"})), "exp claim must be a number"},
		{"nbf in the future", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"nbf": now.Add(time.Minute).Unix()})), "token not valid yet"},
		{"iat in the future", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"iat": now.Add(time.Minute).Unix()})), "token issued in the future"},
		{"wrong issuer", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"iss": "evil"})), "issuer not allowed"},
		{"wrong audience", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"aud": "other"})), "audience not allowed"},
		{"no device_id", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"device_id": nil})), "missing device_id claim"},
		{"device_id with a space", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"device_id": "a b"})), "device_id claim must be"},
		{"device_id too long", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"device_id": strings.Repeat("d", 257)})), "device_id claim must be"},
		{"device_id a number", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"device_id": 12})), "device_id claim must be"},
		{"app not allowed", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"app_id": "app-9"})), "app not allowed"},
		{"no app_id with allow-list", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"app_id": nil})), "app not allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := verifier(t, c.opts)
			got, err := v.Verify(c.token, now)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want == "" && got.DeviceID != "dev-1":
				t.Errorf("claims %+v", got)
			case c.want != "" && err == nil:
				t.Fatalf("accepted, want %q", c.want)
			case c.want != "" && !strings.Contains(err.Reason, c.want):
				t.Errorf("got %q, want %q", err.Reason, c.want)
			}
			if err != nil && c.token != "" && strings.Contains(err.Reason, strings.TrimPrefix(c.token, "Bearer ")) {
				t.Error("the reason echoes the token")
			}
		})
	}
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), "dev-1", "dev-2", 1))
	return parts[0] + "." + b64u(p) + "." + parts[2]
}

func TestJWKSRefusals(t *testing.T) {
	keys(t)
	for _, c := range []struct{ name, jwks, want string }{
		{"RSA key under 2048 bits", `{"keys":[` + rsaJWK("s", smallRSA) + `]}`, "RSA key of 1024 bits"},
		{"RSA key for RS512", `{"keys":[{"kty":"RSA","alg":"RS512","n":"AQAB","e":"AQAB"}]}`, `alg "RS512"`},
		{"EC key on P-384", `{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]}`, `curve "P-384"`},
		{"EC point not on the curve", `{"keys":[{"kty":"EC","crv":"P-256","x":"` + b64u(make([]byte, 32)) + `","y":"` + b64u(make([]byte, 32)) + `"}]}`, "not on P-256"},
		{"symmetric key", `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, `kty "oct"`},
		{"encryption key", `{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`, `use "enc"`},
		{"no keys at all", `{"keys":[]}`, "no verification key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(Options{JWKS: []byte(c.jwks)})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "HS256"} {
		b.Run(alg, func(b *testing.B) {
			v := verifier(b, Options{HS256Secret: []byte(hsSecret)})
			kid := map[string]string{"RS256": "rsa-1", "ES256": "ec-1"}[alg]
			tok := sign(b, alg, kid, claims(nil))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package auth

import (
	"crypto"
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
)

var (
	once      sync.Once
	rsaPriv   *rsa.PrivateKey
	rsaPriv2  *rsa.PrivateKey
	smallRSA  *rsa.PrivateKey
	ecPriv    *ecdsa.PrivateKey
	ecPrivOld *ecdsa.PrivateKey
)

const hsSecret = "hs256-secret-0123456789abcdef0123456789"

func keys(t testing.TB) {
	once.Do(func() {
		rsaPriv, _ = rsa.GenerateKey(rand.Reader, 2048)
		rsaPriv2, _ = rsa.GenerateKey(rand.Reader, 2048)
		smallRSA, _ = rsa.GenerateKey(rand.Reader, 1024)
		ecPriv, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecPrivOld, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// signRaw signs header and payload JSON text exactly as given, so tests can
// send what no JWT library would build (duplicates, crit, trailing data).
func signRaw(t testing.TB, alg, header, payload string) string {
	keys(t)
	in := b64u([]byte(header)) + "." + b64u([]byte(payload))
	h := sha256.Sum256([]byte(in))
	var sig []byte
	switch alg {
	case "RS256":
		sig, _ = rsa.SignPKCS1v15(nil, rsaPriv, crypto.SHA256, h[:])
	case "RS256-other":
		sig, _ = rsa.SignPKCS1v15(nil, rsaPriv2, crypto.SHA256, h[:])
	case "ES256", "ES256-old":
		k := ecPriv
		if alg == "ES256-old" {
			k = ecPrivOld
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	case "HS256":
		m := hmac.New(sha256.New, []byte(hsSecret))
		m.Write([]byte(in))
		sig = m.Sum(nil)
	case "none":
	default:
		t.Fatalf("signRaw: alg %s", alg)
	}
	return in + "." + b64u(sig)
}

func sign(t testing.TB, alg, kid string, c map[string]any) string {
	h := map[string]any{"alg": strings.TrimSuffix(strings.TrimSuffix(alg, "-other"), "-old"), "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	return signRaw(t, alg, mustJSON(h), mustJSON(c))
}

// hmacWith signs with an arbitrary HMAC key: the key-confusion attacks.
func hmacWith(header, payload string, key []byte) string {
	in := b64u([]byte(header)) + "." + b64u([]byte(payload))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + b64u(m.Sum(nil))
}

func defaultJWKS() []byte {
	return []byte(`{"keys":[` + rsaJWK("rsa-1", rsaPriv) + `,` + ecJWK("ec-1", ecPriv) + `]}`)
}

func verifier(t testing.TB, o Options) *Verifier {
	keys(t)
	if o.JWKS == nil {
		o.JWKS = defaultJWKS()
	}
	v, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var full = Options{HS256Secret: []byte(hsSecret), Leeway: 30 * time.Second, Issuer: "firmly", Audience: "transfer", AllowedAppIDs: []string{"app-1"}}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), "dev-1", "dev-2", 1))
	return parts[0] + "." + b64u(p) + "." + parts[2]
}

type verifyCase struct {
	name  string
	opts  Options
	token string
	want  string // "" = accepted
}

func runVerify(t *testing.T, cases []verifyCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, cache := range []int{0, 16} {
				o := c.opts
				o.CacheEntries = cache
				v := verifier(t, o)
				// Twice: a cache may not change the second answer.
				for i := 0; i < 2; i++ {
					res := v.Verify(c.token, now)
					switch {
					case c.want == "" && res.Err != nil:
						t.Fatalf("refused (cache %d, try %d): %v", cache, i, res.Err)
					case c.want == "" && res.Claims.DeviceID != "dev-1":
						t.Errorf("got claims %+v, want device dev-1", res.Claims)
					case c.want != "" && res.Err == nil:
						t.Fatalf("accepted (cache %d, try %d), want %q", cache, i, c.want)
					case c.want != "" && !strings.Contains(res.Err.Reason, c.want):
						t.Errorf("got %q, want %q", res.Err.Reason, c.want)
					}
					if res.Err != nil && len(c.token) > 16 && strings.Contains(res.Err.Reason, strings.TrimSpace(strings.TrimPrefix(c.token, "Bearer "))) {
						t.Error("the reason echoes the token")
					}
				}
			}
		})
	}
}

func TestVerify(t *testing.T) {
	keys(t)
	rsaPub, _ := json.Marshal(rsaPriv.PublicKey.N.Bytes())
	runVerify(t, []verifyCase{
		{"RS256 with kid", full, sign(t, "RS256", "rsa-1", claims(nil)), ""},
		{"RS256 without kid tries the RS256 keys", full, sign(t, "RS256", "", claims(nil)), ""},
		{"ES256 with kid", full, sign(t, "ES256", "ec-1", claims(nil)), ""},
		{"ES256 without kid", full, sign(t, "ES256", "", claims(nil)), ""},
		{"HS256 with the configured secret", full, sign(t, "HS256", "", claims(nil)), ""},
		{"HS256 ignores kid", full, sign(t, "HS256", "rsa-1", claims(nil)), ""},
		{"Bearer prefix", full, "Bearer " + sign(t, "RS256", "rsa-1", claims(nil)), ""},
		{"bearer prefix in any case, with tabs and spaces", full, " \tbEaReR\t  " + sign(t, "RS256", "rsa-1", claims(nil)) + "\t ", ""},
		{"audience in an array", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"aud": []string{"x", "transfer"}})), ""},
		{"expired within leeway", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"exp": now.Add(-20 * time.Second).Unix()})), ""},
		{"fractional exp", full, sign(t, "RS256", "rsa-1", claims(map[string]any{"exp": float64(now.Unix()) + 0.5})), ""},
		{"no app_id without allow-list", Options{HS256Secret: []byte(hsSecret)}, sign(t, "HS256", "", claims(map[string]any{"app_id": nil})), ""},
		{"unknown header parameters and claims are ignored", full, signRaw(t, "RS256", `{"alg":"RS256","kid":"rsa-1","x-extra":{"a":[1,2]}}`, mustJSON(claims(map[string]any{"extra": map[string]any{"b": 1}}))), ""},
		{"JSON whitespace around the objects", full, signRaw(t, "RS256", " {\"alg\":\"RS256\"}\r\n", "\t"+mustJSON(claims(nil))+" \n"), ""},

		{"empty", full, "", "missing device token"},
		{"only Bearer", full, "Bearer ", "missing device token"},
		{"alg none", full, signRaw(t, "none", `{"alg":"none","typ":"JWT"}`, mustJSON(claims(nil))), `algorithm "none" is not allowed`},
		{"alg None with a signature", full, hmacWith(`{"alg":"None"}`, mustJSON(claims(nil)), []byte("x")), `algorithm "None" is not allowed`},
		{"alg RS512", full, hmacWith(`{"alg":"RS512"}`, mustJSON(claims(nil)), []byte("x")), `algorithm "RS512" is not allowed`},
		{"HS256 without a configured secret", Options{}, sign(t, "HS256", "", claims(nil)), `algorithm "HS256" is not allowed`},
		{"HS256 signed with the RSA public key (confusion)", full,
			hmacWith(`{"alg":"HS256","kid":"rsa-1"}`, mustJSON(claims(nil)), rsaPub), "invalid token signature"},
		{"RS256 naming the EC key", full, sign(t, "RS256", "ec-1", claims(nil)), "unknown key id for RS256"},
		{"unknown kid", full, sign(t, "RS256", "nope", claims(nil)), "unknown key id for RS256"},
		{"signed by another key", full, sign(t, "RS256-other", "rsa-1", claims(nil)), "invalid token signature"},
		{"tampered payload", full, tamper(sign(t, "RS256", "rsa-1", claims(nil))), "invalid token signature"},
		{"tampered ES256 payload", full, tamper(sign(t, "ES256", "ec-1", claims(nil))), "invalid token signature"},
		{"tampered HS256 payload", full, tamper(sign(t, "HS256", "", claims(nil))), "invalid token signature"},
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
	})
}

// The strict syntax of SPEC §2.2, each refusal naming its cause.
func TestStrictSyntax(t *testing.T) {
	keys(t)
	good := sign(t, "RS256", "rsa-1", claims(nil))
	parts := strings.Split(good, ".")
	pl := mustJSON(claims(nil))
	hdr := `{"alg":"RS256","kid":"rsa-1"}`
	withClaim := func(name, raw string) string {
		return signRaw(t, "RS256", hdr, strings.TrimSuffix(pl, "}")+`,"`+name+`":`+raw+`}`)
	}
	// A non-canonical spelling: the last character's unused bits set.
	nonCanonical := func(seg string) string {
		last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", seg[len(seg)-1])
		return seg[:len(seg)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])
	}
	sigNC := nonCanonical(parts[2]) // RS256 256-byte signature: 2 unused bits
	if sigNC == parts[2] {
		t.Fatal("test setup: signature has no unused bits to set")
	}
	runVerify(t, []verifyCase{
		{"U+00A0 around the token", full, "\u00a0" + good, "malformed token"},
		{"U+3000 after the token", full, good + "\u3000", "malformed token"},
		{"U+2028 after Bearer", full, "Bearer\u2028" + good, "malformed token"},
		{"CR LF after the token", full, good + "\r\n", "not canonical"},
		{"whitespace inside the token", full, parts[0] + ". " + parts[1] + "." + parts[2], "not canonical"},
		{"a line break inside a segment", full, parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], "not canonical"},
		{"padding", full, parts[0] + "." + parts[1] + "." + parts[2] + "==", "not canonical"},
		{"standard base64 alphabet", full, parts[0] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[1]) + "+/." + parts[2], "not canonical"},
		{"non-zero unused bits in the signature", full, parts[0] + "." + parts[1] + "." + sigNC, "signature is not canonical"},
		{"two segments", full, parts[0] + "." + parts[1], "want 3 segments"},
		{"four segments", full, good + ".AAAA", "want 3 segments"},
		{"JWE-like five segments", full, good + ".AA.AA", "want 3 segments"},
		{"stripped signature", full, parts[0] + "." + parts[1] + ".", "token signature is empty"},
		{"header not JSON", full, b64u([]byte("alg")) + "." + parts[1] + "." + parts[2], "header is not valid JSON"},
		{"header a JSON array", full, signRaw(t, "RS256", `["alg","RS256"]`, pl), "header is not a JSON object"},
		{"header not UTF-8", full, signRaw(t, "RS256", "{\"alg\":\"RS256\",\"x\":\"\xff\"}", pl), "header is not valid UTF-8"},
		{"payload not UTF-8", full, signRaw(t, "RS256", hdr, strings.TrimSuffix(pl, "}")+",\"x\":\"\xc3\x28\"}"), "payload is not valid UTF-8"},
		{"data after the claims object", full, signRaw(t, "RS256", hdr, pl+`{"device_id":"evil"}`), "payload is not valid JSON"},
		{"data after the header object", full, signRaw(t, "RS256", hdr+`x`, pl), "header is not valid JSON"},
		{"duplicate device_id", full, withClaim("device_id", `"evil"`), "duplicate member name in payload"},
		{"duplicate app_id", full, withClaim("app_id", `"app-9"`), "duplicate member name in payload"},
		{"duplicate exp, past then future", full, signRaw(t, "RS256", hdr, `{"exp":1,`+pl[1:]), "duplicate member name in payload"},
		{"duplicate name spelled with an escape", full, withClaim("devic\\u0065_id", `"evil"`), "duplicate member name in payload"},
		{"duplicate name deep inside the payload", full, withClaim("x", `[{"a":{"b":1,"b":2}}]`), "duplicate member name in payload"},
		{"duplicate kid in the header", full, signRaw(t, "RS256", `{"alg":"RS256","kid":"rsa-1","kid":"other"}`, pl), "duplicate member name in header"},
		{"duplicate alg in the header", full, signRaw(t, "RS256", `{"alg":"HS256","alg":"RS256"}`, pl), "duplicate member name in header"},
		{"deep nesting", full, withClaim("x", strings.Repeat("[", 40)+strings.Repeat("]", 40)), "nested more than"},
		{"crit with an unknown extension", full, signRaw(t, "RS256", `{"alg":"RS256","crit":["x-unknown"],"x-unknown":1}`, pl), "crit header parameter is not supported"},
		{"crit b64 false", full, signRaw(t, "RS256", `{"alg":"RS256","crit":["b64"],"b64":false}`, pl), "crit header parameter is not supported"},
		{"crit empty", full, signRaw(t, "RS256", `{"alg":"RS256","crit":[]}`, pl), "crit header parameter is not supported"},
		{"crit a string", full, signRaw(t, "RS256", `{"alg":"RS256","crit":"x"}`, pl), "crit header parameter is not supported"},
		{"missing alg", full, signRaw(t, "RS256", `{"kid":"rsa-1"}`, pl), "missing alg header parameter"},
		{"alg a number", full, signRaw(t, "RS256", `{"alg":256}`, pl), "alg header parameter must be a string"},
		{"alg an array", full, signRaw(t, "RS256", `{"alg":["RS256"]}`, pl), "alg header parameter must be a string"},
		{"alg null", full, signRaw(t, "RS256", `{"alg":null}`, pl), "alg header parameter must be a string"},
		{"kid a number", full, signRaw(t, "RS256", `{"alg":"RS256","kid":1}`, pl), "kid header parameter must be a string"},
		{"kid of 257 bytes", full, signRaw(t, "RS256", `{"alg":"RS256","kid":"`+strings.Repeat("k", 257)+`"}`, pl), "kid header parameter longer than 256 bytes"},
		{"kid path traversal", full, signRaw(t, "RS256", `{"alg":"RS256","kid":"../../etc/passwd"}`, pl), "unknown key id for RS256"},
		{"kid with NUL", full, signRaw(t, "RS256", `{"alg":"RS256","kid":"rsa-1\u0000"}`, pl), "unknown key id for RS256"},
		{"kid with quotes", full, signRaw(t, "RS256", `{"alg":"RS256","kid":"rsa-1\" or \"1\"=\"1"}`, pl), "unknown key id for RS256"},
		{"exp a string", full, withClaim("nbf", `"1"`), "nbf claim must be a number"},
		{"exp a boolean", full, signRaw(t, "RS256", hdr, `{"device_id":"dev-1","exp":true}`), "exp claim must be a number"},
		{"exp 2^64 is out of range", full, signRaw(t, "RS256", hdr, `{"device_id":"dev-1","exp":18446744073709551616}`), "exp claim out of range"},
		{"exp 1e400 is out of range", full, signRaw(t, "RS256", hdr, `{"device_id":"dev-1","exp":1e400}`), "exp claim out of range"},
		{"exp just past 2^53 is out of range", full, signRaw(t, "RS256", hdr, `{"device_id":"dev-1","exp":9007199254740994}`), "exp claim out of range"},
		{"iat below -2^53 is out of range", full, signRaw(t, "RS256", hdr, `{"device_id":"dev-1","exp":1,"iat":-9007199254740994}`), "iat claim out of range"},
		{"exp 2^53 is in range", full, signRaw(t, "RS256", hdr, mustJSON(claims(map[string]any{"exp": 1 << 53}))), ""},
		{"embedded jwk is never used", full, func() string {
			k, _ := rsa.GenerateKey(rand.Reader, 2048)
			jwk := rsaJWK("evil", k)
			in := b64u([]byte(`{"alg":"RS256","jwk":`+jwk+`}`)) + "." + b64u([]byte(pl))
			h := sha256.Sum256([]byte(in))
			sig, _ := rsa.SignPKCS1v15(nil, k, crypto.SHA256, h[:])
			return in + "." + b64u(sig)
		}(), "invalid token signature"},
		{"jku, x5u and x5c are never fetched or used", full, signRaw(t, "RS256-other", `{"alg":"RS256","jku":"http://evil/jwks","x5u":"http://evil/c","x5c":["MIIB"]}`, pl), "invalid token signature"},
		{"ES256 signature of 63 bytes", full, func() string {
			p := strings.Split(sign(t, "ES256", "ec-1", claims(nil)), ".")
			s, _ := base64.RawURLEncoding.DecodeString(p[2])
			return p[0] + "." + p[1] + "." + b64u(s[:63])
		}(), "ES256 wants 64 bytes"},
		{"ES256 DER signature", full, func() string {
			p := strings.Split(sign(t, "ES256", "ec-1", claims(nil)), ".")
			h := sha256.Sum256([]byte(p[0] + "." + p[1]))
			der, _ := ecdsa.SignASN1(rand.Reader, ecPriv, h[:])
			return p[0] + "." + p[1] + "." + b64u(der)
		}(), "ES256 wants 64 bytes"},
		{"ES256 r = 0", full, esSig(t, func(r, s []byte) { clear(r) }), "invalid token signature"},
		{"ES256 s = 0", full, esSig(t, func(r, s []byte) { clear(s) }), "invalid token signature"},
		{"ES256 r = n", full, esSig(t, func(r, s []byte) { elliptic.P256().Params().N.FillBytes(r) }), "invalid token signature"},
		{"ES256 s = n", full, esSig(t, func(r, s []byte) { elliptic.P256().Params().N.FillBytes(s) }), "invalid token signature"},
		{"ES256 r = p", full, esSig(t, func(r, s []byte) { elliptic.P256().Params().P.FillBytes(r) }), "invalid token signature"},
		{"RS256 signature one byte short", full, func() string {
			s, _ := base64.RawURLEncoding.DecodeString(parts[2])
			return parts[0] + "." + parts[1] + "." + b64u(s[1:])
		}(), "invalid token signature"},
		{"RS256 signature equal to the modulus", full, parts[0] + "." + parts[1] + "." + b64u(rsaPriv.N.Bytes()), "invalid token signature"},
		{"ES256 token signed with the other curve key", full, sign(t, "ES256-old", "ec-1", claims(nil)), "invalid token signature"},
		{"a signature from another token", full, parts[0] + "." + parts[1] + "." + strings.Split(sign(t, "RS256", "rsa-1", claims(map[string]any{"device_id": "dev-2"})), ".")[2], "invalid token signature"},
	})
}

// esSig signs an ES256 token, then lets f rewrite r and s.
func esSig(t testing.TB, f func(r, s []byte)) string {
	p := strings.Split(sign(t, "ES256", "ec-1", claims(nil)), ".")
	sig, _ := base64.RawURLEncoding.DecodeString(p[2])
	f(sig[:32], sig[32:])
	return p[0] + "." + p[1] + "." + b64u(sig)
}

func TestTokenSizeLimit(t *testing.T) {
	keys(t)
	big := sign(t, "RS256", "rsa-1", claims(map[string]any{"pad": strings.Repeat("p", 9000)}))
	v := verifier(t, full)
	if res := v.Verify(big, now); res.Err == nil || res.Err.Reason != "token larger than 8192 bytes" {
		t.Errorf("got %+v, want the default limit of 8192 bytes", res.Err)
	}
	if res := v.Verify(strings.Repeat("A", 1<<20), now); res.Err == nil || res.Err.Reason != "token larger than 8192 bytes" || res.Cache != CacheNone {
		t.Errorf("got %+v, want the size refusal before any lookup", res)
	}
	o := full
	o.MaxTokenBytes = 16384
	if res := verifier(t, o).Verify(big, now); res.Err != nil {
		t.Errorf("got %v, want accepted under a 16 KiB limit", res.Err)
	}
	// Counted after trimming and after the Bearer prefix.
	o.MaxTokenBytes = len(big)
	if res := verifier(t, o).Verify("Bearer   "+big+"  ", now); res.Err != nil {
		t.Errorf("got %v, want a token of exactly the limit accepted", res.Err)
	}
	o.MaxTokenBytes = len(big) - 1
	if res := verifier(t, o).Verify(big, now); res.Err == nil || !strings.Contains(res.Err.Reason, "larger than") {
		t.Errorf("got %+v, want refused one byte over", res.Err)
	}
}

func TestJWKSRefusals(t *testing.T) {
	keys(t)
	for _, c := range []struct{ name, jwks, want string }{
		{"RSA key under 2048 bits", `{"keys":[` + rsaJWK("s", smallRSA) + `]}`, "RSA key of 1024 bits"},
		{"RSA key of 2047 bits", `{"keys":[{"kty":"RSA","n":"` + b64u(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 2047), big.NewInt(1)).Bytes()) + `","e":"AQAB"}]}`, "RSA key of 2047 bits"},
		{"RSA key with exponent 1", `{"keys":[{"kty":"RSA","n":"` + b64u(rsaPriv.N.Bytes()) + `","e":"AQ"}]}`, "invalid exponent"},
		{"RSA key with an even exponent", `{"keys":[{"kty":"RSA","n":"` + b64u(rsaPriv.N.Bytes()) + `","e":"AQAA"}]}`, "invalid exponent"},
		{"RSA key for RS512", `{"keys":[{"kty":"RSA","alg":"RS512","n":"AQAB","e":"AQAB"}]}`, `alg "RS512"`},
		{"RSA modulus not canonical base64url", `{"keys":[{"kty":"RSA","n":"` + b64u(rsaPriv.N.Bytes()) + `=","e":"AQAB"}]}`, "canonical base64url"},
		{"EC key on P-384", `{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]}`, `curve "P-384"`},
		{"EC point not on the curve", `{"keys":[{"kty":"EC","crv":"P-256","x":"` + b64u(make([]byte, 32)) + `","y":"` + b64u(make([]byte, 32)) + `"}]}`, "not a point on P-256"},
		{"symmetric key", `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, `kty "oct"`},
		{"encryption key", `{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`, `use "enc"`},
		{"no keys at all", `{"keys":[]}`, "no verification key"},
		{"RSA key with exponent 3", `{"keys":[{"kty":"RSA","n":"` + b64u(rsaPriv.N.Bytes()) + `","e":"Aw"}]}`, "invalid exponent: only 65537"},
		{"RSA key with exponent 2^31-1", `{"keys":[{"kty":"RSA","n":"` + b64u(rsaPriv.N.Bytes()) + `","e":"f____w"}]}`, "invalid exponent: only 65537"},
		{"RSA key with exponent 65537 spelled with a zero byte", `{"keys":[{"kty":"RSA","n":"` + b64u(rsaPriv.N.Bytes()) + `","e":"AAEAAQ"}]}`, "invalid exponent"},
		{"RSA key of 4097 bits", `{"keys":[{"kty":"RSA","n":"` + b64u(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 4097), big.NewInt(1)).Bytes()) + `","e":"AQAB"}]}`, "RSA key of 4097 bits: at most 4096"},
		{"key_ops without verify", `{"keys":[` + strings.Replace(rsaJWK("enc", rsaPriv), `"kty"`, `"key_ops":["encrypt"],"kty"`, 1) + `]}`, `keys[0]: key_ops does not allow "verify"`},
		{"key_ops empty", `{"keys":[` + strings.Replace(ecJWK("e", ecPriv), `"kty"`, `"key_ops":[],"kty"`, 1) + `]}`, `key_ops does not allow "verify"`},
		{"key_ops not an array", `{"keys":[` + strings.Replace(ecJWK("e", ecPriv), `"kty"`, `"key_ops":"verify","kty"`, 1) + `]}`, "key_ops must be an array"},
		{"use not a string", `{"keys":[` + strings.Replace(ecJWK("e", ecPriv), `"kty"`, `"use":1,"kty"`, 1) + `]}`, "only signature keys"},
		{"17 keys", `{"keys":[` + strings.Repeat(ecJWK("e", ecPriv)+`,`, 16) + ecJWK("e", ecPriv) + `]}`, "17 usable keys, at most 16"},
		{"a repeated keys member", `{"keys":[` + ecJWK("e", ecPriv) + `],"keys":[]}`, "duplicate member name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(Options{JWKS: []byte(c.jwks)})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

// SPEC §2.2: a token without a kid is tried against at most 4 keys of its
// algorithm; with more, it is refused before any signature check. Keys of
// other algorithms, inline and remote keys together, are counted as such.
func TestKidlessTokenTriesAtMostFourKeys(t *testing.T) {
	keys(t)
	set := func(n int) []byte {
		parts := []string{rsaJWK("rsa-1", rsaPriv)}
		for i := 0; i < n; i++ {
			parts = append(parts, ecJWK(fmt.Sprint("ec-", i), ecPriv))
		}
		return []byte(`{"keys":[` + strings.Join(parts, ",") + `]}`)
	}
	four, five := full, full
	four.JWKS, five.JWKS = set(4), set(5)
	runVerify(t, []verifyCase{
		{"4 ES256 keys, no kid", four, sign(t, "ES256", "", claims(nil)), ""},
		{"5 ES256 keys, no kid", five, sign(t, "ES256", "", claims(nil)), "token has no kid and 5 keys could have signed it"},
		{"5 ES256 keys, a kid", five, sign(t, "ES256", "ec-4", claims(nil)), ""},
		{"5 ES256 keys, RS256 without kid", five, sign(t, "RS256", "", claims(nil)), ""},
		{"5 ES256 keys, HS256", five, sign(t, "HS256", "", claims(nil)), ""},
	})
	// Remote keys add to the inline ones.
	o := full
	o.JWKS = set(3)
	v := verifier(t, o)
	remote, err := ParseRemoteJWKS(set(2))
	if err != nil {
		t.Fatal(err)
	}
	v.SetRemoteKeys(remote)
	if res := v.Verify(sign(t, "ES256", "", claims(nil)), now); res.Err == nil || res.Err.Reason != "token has no kid and 5 keys could have signed it" {
		t.Errorf("got %+v, want 5 keys counted", res.Err)
	}
}

// exp, nbf and iat are range-checked exactly on the number as written
// (SPEC §2.2), never after rounding to a float.
func TestNumericDateRangeIsExact(t *testing.T) {
	for _, c := range []struct {
		raw string
		ok  bool
	}{
		{"0", true}, {"-0", true}, {"1800000000", true}, {"1800000000.5", true}, {"1.8e9", true},
		{"9007199254740992", true}, {"-9007199254740992", true}, {"9007199254740992.0", true}, {"9007199254740992.000", true},
		{"9007199254740991.999999999999", true}, {"900719925474099.2e1", true}, {"0.9007199254740992e16", true},
		{"9007199254740992e0", true}, {"90071992547409920e-1", true}, {"0e999999999", true}, {"1e-999999999", true},
		{"9007199254740993", false}, {"-9007199254740993", false}, {"9007199254740992.5", false},
		{"9007199254740992.0000000001", false}, {"9007199254740992e1", false}, {"1e16", false}, {"1E400", false},
		{"18446744073709551616", false}, {"1e999999999999", false}, {"90071992547409921e-1", false},
		{"0.00000000000000000009007199254740993e20", true},
	} {
		if got := numericDateInRange(c.raw); got != c.ok {
			t.Errorf("numericDateInRange(%s) = %v, want %v", c.raw, got, c.ok)
		}
	}
	runVerify(t, []verifyCase{
		{"exp 2^53 + 1", full, signRaw(t, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, strings.TrimSuffix(mustJSON(claims(map[string]any{"exp": nil})), "}")+`,"exp":9007199254740993}`), "exp claim out of range"},
		{"exp 2^53 + 0.5", full, signRaw(t, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, strings.TrimSuffix(mustJSON(claims(map[string]any{"exp": nil})), "}")+`,"exp":9007199254740992.5}`), "exp claim out of range"},
		{"iat -2^53 - 1", full, signRaw(t, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, strings.TrimSuffix(mustJSON(claims(map[string]any{"iat": nil})), "}")+`,"iat":-9007199254740993}`), "iat claim out of range"},
		{"exp 2^53 is in range", full, signRaw(t, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, strings.TrimSuffix(mustJSON(claims(map[string]any{"exp": nil})), "}")+`,"exp":9007199254740992}`), ""},
	})
}

// FuzzNumericDateRange holds the exact check to math/big on every number
// whose exponent is small enough for big to handle.
func FuzzNumericDateRange(f *testing.F) {
	for _, s := range []string{"9007199254740993", "9007199254740992.5", "1e16", "-0.5e-3", "0"} {
		f.Add(s)
	}
	limit := new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), 53))
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) || len(s) == 0 || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') || len(s) > 64 {
			t.Skip()
		}
		if i := strings.IndexAny(s, "eE"); i >= 0 && len(strings.TrimLeft(s[i+1:], "+-")) > 3 {
			t.Skip()
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Skip()
		}
		want := new(big.Rat).Abs(r).Cmp(limit) <= 0
		if got := numericDateInRange(s); got != want {
			t.Fatalf("numericDateInRange(%s) = %v, want %v", s, got, want)
		}
	})
}

package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

// The attack table of issue 8, against plugin.wasm: tokens an attacker can
// build, most of them genuinely signed with the configured keys. Every row
// must be 401 MissingAuthHeader with a description naming the cause, with
// no callout, no upstream contact, and the token in no answer or log line.

// atkSign signs header and payload JSON text exactly as given with the
// stack's keys (the harness's JWT library would normalise them).
func atkSign(t testing.TB, alg, header, payload string) string {
	r, e := e2etest.TestKeys(t)
	in := e2etest.B64u([]byte(header)) + "." + e2etest.B64u([]byte(payload))
	h := sha256.Sum256([]byte(in))
	var sig []byte
	switch alg {
	case "RS256":
		sig, _ = rsa.SignPKCS1v15(nil, r, crypto.SHA256, h[:])
	case "ES256":
		rr, ss, err := ecdsa.Sign(rand.Reader, e, h[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = append(rr.FillBytes(make([]byte, 32)), ss.FillBytes(make([]byte, 32))...)
	case "HS256":
		return atkHMAC(header, payload, []byte(e2etest.TestHS256))
	case "":
	default:
		t.Fatalf("atkSign: alg %s", alg)
	}
	return in + "." + e2etest.B64u(sig)
}

func atkHMAC(header, payload string, key []byte) string {
	in := e2etest.B64u([]byte(header)) + "." + e2etest.B64u([]byte(payload))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + e2etest.B64u(m.Sum(nil))
}

func atkJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// atkPublicKeyEncodings are the spellings of the stack's public keys an
// attacker would try as an HMAC secret.
func atkPublicKeyEncodings(t testing.TB) map[string][]byte {
	r, e := e2etest.TestKeys(t)
	pkixRSA, _ := x509.MarshalPKIXPublicKey(&r.PublicKey)
	pkcs1RSA := x509.MarshalPKCS1PublicKey(&r.PublicKey)
	pkixEC, _ := x509.MarshalPKIXPublicKey(&e.PublicKey)
	ecPoint, _ := e.PublicKey.Bytes()
	var keys struct {
		Keys []json.RawMessage `json:"keys"`
	}
	json.Unmarshal([]byte(e2etest.JWKS(t)), &keys)
	return map[string][]byte{
		"RSA PKIX PEM":    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkixRSA}),
		"RSA PKCS#1 PEM":  pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1RSA}),
		"RSA PKIX DER":    pkixRSA,
		"RSA PKCS#1 DER":  pkcs1RSA,
		"RSA modulus":     r.N.Bytes(),
		"RSA modulus b64": []byte(e2etest.B64u(r.N.Bytes())),
		"RSA JWK text":    keys.Keys[0],
		"EC PKIX PEM":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkixEC}),
		"EC PKIX DER":     pkixEC,
		"EC point":        ecPoint,
		"EC JWK text":     keys.Keys[1],
		"JWKS text":       []byte(e2etest.JWKS(t)),
	}
}

type attack struct {
	name, token, want string
}

func attackTable(t *testing.T) []attack {
	r, e := e2etest.TestKeys(t)
	claims := e2etest.DeviceClaims()
	pl := atkJSON(claims)
	rsaHdr := `{"alg":"RS256","kid":"rsa-1"}`
	good := atkSign(t, "RS256", rsaHdr, pl)
	parts := strings.Split(good, ".")
	es := strings.Split(atkSign(t, "ES256", `{"alg":"ES256","kid":"ec-1"}`, pl), ".")
	esRaw, _ := base64.RawURLEncoding.DecodeString(es[2])
	withES := func(f func(r, s []byte)) string {
		s := append([]byte(nil), esRaw...)
		f(s[:32], s[32:])
		return es[0] + "." + es[1] + "." + e2etest.B64u(s)
	}
	n, p := elliptic.P256().Params().N, elliptic.P256().Params().P
	withClaim := func(name, raw string) string {
		return atkSign(t, "RS256", rsaHdr, strings.TrimSuffix(pl, "}")+`,"`+name+`":`+raw+`}`)
	}
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	attackerJWK := fmt.Sprintf(`{"kty":"RSA","n":%q,"e":"AQAB"}`, e2etest.B64u(attacker.N.Bytes()))
	signWith := func(k *rsa.PrivateKey, header string) string {
		in := e2etest.B64u([]byte(header)) + "." + e2etest.B64u([]byte(pl))
		h := sha256.Sum256([]byte(in))
		sig, _ := rsa.SignPKCS1v15(nil, k, crypto.SHA256, h[:])
		return in + "." + e2etest.B64u(sig)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	setUnusedBits := func(seg string) string {
		i := strings.IndexByte(alphabet, seg[len(seg)-1])
		return seg[:len(seg)-1] + string(alphabet[i|1])
	}
	sigRaw, _ := base64.RawURLEncoding.DecodeString(parts[2])

	rows := []attack{}
	for _, none := range []string{"none", "None", "NONE", "nOnE"} {
		rows = append(rows,
			attack{"alg " + none + " without a signature", atkSign(t, "", `{"alg":"`+none+`","typ":"JWT"}`, pl), `algorithm "` + none + `" is not allowed`},
			attack{"alg " + none + " with an RS256 signature", atkSign(t, "", `{"alg":"`+none+`"}`, pl) + parts[2], `algorithm "` + none + `" is not allowed`})
	}
	rows = append(rows,
		attack{"alg RS512", atkHMAC(`{"alg":"RS512"}`, pl, []byte("x")), `algorithm "RS512" is not allowed`},
		attack{"alg PS256", atkHMAC(`{"alg":"PS256"}`, pl, []byte("x")), `algorithm "PS256" is not allowed`},
		attack{"alg EdDSA", atkHMAC(`{"alg":"EdDSA"}`, pl, []byte("x")), `algorithm "EdDSA" is not allowed`},
		attack{"alg of another token's text is not echoed", atkHMAC(`{"alg":"`+good+`"}`, pl, []byte("x")), `algorithm (not shown) is not allowed`},
		attack{"missing alg", atkSign(t, "RS256", `{"kid":"rsa-1"}`, pl), "missing alg header parameter"},
		attack{"alg a number", atkSign(t, "RS256", `{"alg":256}`, pl), "alg header parameter must be a string"},
		attack{"alg null", atkSign(t, "RS256", `{"alg":null}`, pl), "alg header parameter must be a string"},
		attack{"alg an array", atkSign(t, "RS256", `{"alg":["RS256"]}`, pl), "alg header parameter must be a string"},
	)
	for name, key := range atkPublicKeyEncodings(t) {
		rows = append(rows,
			attack{"HS256 keyed with the " + name, atkHMAC(`{"alg":"HS256"}`, pl, key), "invalid token signature"},
			attack{"HS256 keyed with the " + name + " naming its kid", atkHMAC(`{"alg":"HS256","kid":"rsa-1"}`, pl, key), "invalid token signature"})
	}
	rows = append(rows,
		attack{"stripped RS256 signature", parts[0] + "." + parts[1] + ".", "token signature is empty"},
		attack{"stripped ES256 signature", es[0] + "." + es[1] + ".", "token signature is empty"},
		attack{"foreign signature (another key)", signWith(attacker, rsaHdr), "invalid token signature"},
		attack{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(atkSign(t, "RS256", rsaHdr, strings.Replace(pl, "dev-123", "dev-9", 1)), ".")[2], "invalid token signature"},
		attack{"tampered payload", parts[0] + "." + e2etest.B64u([]byte(strings.Replace(pl, "dev-123", "dev-999", 1))) + "." + parts[2], "invalid token signature"},
		attack{"tampered header", e2etest.B64u([]byte(`{"alg":"RS256","kid":"rsa-1","x":1}`)) + "." + parts[1] + "." + parts[2], "invalid token signature"},
		attack{"tampered signature", parts[0] + "." + parts[1] + "." + e2etest.B64u(append(append([]byte(nil), sigRaw[:100]...), append([]byte{sigRaw[100] ^ 1}, sigRaw[101:]...)...)), "invalid token signature"},
		attack{"embedded jwk of the signer", signWith(attacker, `{"alg":"RS256","jwk":`+attackerJWK+`}`), "invalid token signature"},
		attack{"embedded jwk naming a configured kid", signWith(attacker, `{"alg":"RS256","kid":"rsa-1","jwk":`+attackerJWK+`}`), "invalid token signature"},
		attack{"jku to the attacker's JWKS", signWith(attacker, `{"alg":"RS256","jku":"http://merchant_luma/jwks.json"}`), "invalid token signature"},
		attack{"x5u to the attacker's certificate", signWith(attacker, `{"alg":"RS256","x5u":"http://merchant_luma/cert.pem"}`), "invalid token signature"},
		attack{"x5c with the attacker's certificate", signWith(attacker, `{"alg":"RS256","x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}`), "invalid token signature"},
		attack{"kid path traversal", atkSign(t, "RS256", `{"alg":"RS256","kid":"../../../../dev/null"}`, pl), "unknown key id for RS256"},
		attack{"kid with quotes", atkSign(t, "RS256", `{"alg":"RS256","kid":"rsa-1' OR '1'='1\""}`, pl), "unknown key id for RS256"},
		attack{"kid with NUL", atkSign(t, "RS256", `{"alg":"RS256","kid":"rsa-1\u0000"}`, pl), "unknown key id for RS256"},
		attack{"kid of 5 KB", atkSign(t, "RS256", `{"alg":"RS256","kid":"`+strings.Repeat("k", 5000)+`"}`, pl), "kid header parameter longer than 256 bytes"},
		attack{"kid a number", atkSign(t, "RS256", `{"alg":"RS256","kid":1}`, pl), "kid header parameter must be a string"},
		attack{"kid an object", atkSign(t, "RS256", `{"alg":"RS256","kid":{"kid":"rsa-1"}}`, pl), "kid header parameter must be a string"},
		attack{"kid naming the EC key for RS256", atkSign(t, "RS256", `{"alg":"RS256","kid":"ec-1"}`, pl), "unknown key id for RS256"},
		attack{"crit with an unknown extension", atkSign(t, "RS256", `{"alg":"RS256","crit":["x-unknown"],"x-unknown":1}`, pl), "crit header parameter is not supported"},
		attack{"crit b64 false", atkSign(t, "RS256", `{"alg":"RS256","crit":["b64"],"b64":false}`, pl), "crit header parameter is not supported"},
		attack{"crit empty", atkSign(t, "RS256", `{"alg":"RS256","crit":[]}`, pl), "crit header parameter is not supported"},
		attack{"crit a string", atkSign(t, "RS256", `{"alg":"RS256","crit":"x"}`, pl), "crit header parameter is not supported"},
		attack{"duplicate kid in the header", atkSign(t, "RS256", `{"alg":"RS256","kid":"rsa-1","kid":"other"}`, pl), "duplicate member name in header"},
		attack{"duplicate alg in the header", atkSign(t, "RS256", `{"alg":"HS256","alg":"RS256"}`, pl), "duplicate member name in header"},
		attack{"duplicate device_id", withClaim("device_id", `"evil"`), "duplicate member name in payload"},
		attack{"duplicate app_id", atkSign(t, "RS256", rsaHdr, `{"app_id":"app-1",`+pl[1:]), "duplicate member name in payload"},
		attack{"duplicate exp, past then future", atkSign(t, "RS256", rsaHdr, `{"exp":1,`+pl[1:]), "duplicate member name in payload"},
		attack{"duplicate name spelled with an escape", withClaim("devic\\u0065_id", `"evil"`), "duplicate member name in payload"},
		attack{"duplicate name nested in a claim", withClaim("x", `{"a":[{"b":1,"b":2}]}`), "duplicate member name in payload"},
		attack{"non-canonical signature (unused bits set)", parts[0] + "." + parts[1] + "." + setUnusedBits(parts[2]), "signature is not canonical"},
		attack{"non-canonical ES256 signature", es[0] + "." + es[1] + "." + setUnusedBits(es[2]), "signature is not canonical"},
		attack{"padded signature", good + "==", "signature is not canonical"},
		attack{"standard base64 alphabet", parts[0] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[1]) + "+." + parts[2], "payload is not canonical"},
		attack{"padded header", e2etest.B64u([]byte(rsaHdr)) + "=." + parts[1] + "." + parts[2], "header is not canonical"},
		attack{"data after the claims object", atkSign(t, "RS256", rsaHdr, pl+`{"device_id":"evil"}`), "payload is not valid JSON"},
		attack{"data after the header object", atkSign(t, "RS256", rsaHdr+`{"alg":"none"}`, pl), "header is not valid JSON"},
		attack{"claims not UTF-8", atkSign(t, "RS256", rsaHdr, strings.TrimSuffix(pl, "}")+",\"x\":\"\xff\"}"), "payload is not valid UTF-8"},
		attack{"claims a JSON array", atkSign(t, "RS256", rsaHdr, `[`+pl+`]`), "payload is not a JSON object"},
		attack{"one segment", parts[0], "want 3 segments separated by '.', got 1"},
		attack{"two segments", parts[0] + "." + parts[1], "want 3 segments separated by '.', got 2"},
		attack{"four segments", good + "." + parts[2], "want 3 segments separated by '.', got 4"},
		attack{"five segments (JWE shape)", good + ".AA.AA", "want 3 segments separated by '.', got 5"},
		attack{"a space inside the token", parts[0] + "." + parts[1] + " ." + parts[2], "payload is not canonical"},
		attack{"a tab inside a segment", parts[0] + "." + parts[1][:8] + "\t" + parts[1][8:] + "." + parts[2], "payload is not canonical"},
		attack{"U+00A0 before the token", "\u00a0" + good, "header is not canonical"},
		attack{"U+2028 after the token", good + "\u2028", "signature is not canonical"},
		attack{"U+3000 after Bearer", "Bearer\u3000" + good, "header is not canonical"},
		attack{"ES256 r = 0", withES(func(r, s []byte) { clear(r) }), "invalid token signature"},
		attack{"ES256 s = 0", withES(func(r, s []byte) { clear(s) }), "invalid token signature"},
		attack{"ES256 r = n", withES(func(r, s []byte) { n.FillBytes(r) }), "invalid token signature"},
		attack{"ES256 s = n", withES(func(r, s []byte) { n.FillBytes(s) }), "invalid token signature"},
		attack{"ES256 r = p", withES(func(r, s []byte) { p.FillBytes(r) }), "invalid token signature"},
		attack{"ES256 s = p", withES(func(r, s []byte) { p.FillBytes(s) }), "invalid token signature"},
		attack{"ES256 DER signature", func() string {
			h := sha256.Sum256([]byte(es[0] + "." + es[1]))
			der, _ := ecdsa.SignASN1(rand.Reader, e, h[:])
			return es[0] + "." + es[1] + "." + e2etest.B64u(der)
		}(), "ES256 wants 64 bytes r||s"},
		attack{"ES256 signature of 63 bytes", es[0] + "." + es[1] + "." + e2etest.B64u(esRaw[:63]), "ES256 wants 64 bytes r||s, got 63"},
		attack{"ES256 signature of 65 bytes", es[0] + "." + es[1] + "." + e2etest.B64u(append(append([]byte(nil), esRaw...), 0)), "ES256 wants 64 bytes r||s, got 65"},
		attack{"ES256 signature of 96 bytes (P-384 size)", es[0] + "." + es[1] + "." + e2etest.B64u(make([]byte, 96)), "ES256 wants 64 bytes r||s, got 96"},
		attack{"RS256 signature equal to the modulus", parts[0] + "." + parts[1] + "." + e2etest.B64u(r.N.Bytes()), "invalid token signature"},
		attack{"RS256 signature one byte short", parts[0] + "." + parts[1] + "." + e2etest.B64u(sigRaw[1:]), "invalid token signature"},
		attack{"oversize token (9 KB)", withClaim("pad", `"`+strings.Repeat("p", 9000)+`"`), "token larger than 8192 bytes"},
		attack{"oversize token (48 KB)", withClaim("pad", `"`+strings.Repeat("p", 48000)+`"`), "token larger than 8192 bytes"},
		attack{"exp 2^64", withClaimReplaced(t, claims, "exp", "18446744073709551616"), "exp claim out of range"},
		attack{"exp 1e400", withClaimReplaced(t, claims, "exp", "1e400"), "exp claim out of range"},
		attack{"nbf -1e16", withClaim("nbf", "-1e16"), "nbf claim out of range"},
		attack{"iat 2^53 + 2", withClaimReplaced(t, claims, "iat", "9007199254740994"), "iat claim out of range"},
		attack{"exp a string", withClaimReplaced(t, claims, "exp", `"9999999999"`), "exp claim must be a number"},
		attack{"nbf an object", withClaim("nbf", `{"$gt":0}`), "nbf claim must be a number"},
		// Issue 17: the range is checked on the number as written.
		attack{"exp 2^53 + 1", withClaimReplaced(t, claims, "exp", "9007199254740993"), "exp claim out of range"},
		attack{"exp 2^53 + 0.5", withClaimReplaced(t, claims, "exp", "9007199254740992.5"), "exp claim out of range"},
		attack{"exp 2^53 + 1 written with an exponent", withClaimReplaced(t, claims, "exp", "90071992547409930e-1"), "exp claim out of range"},
		attack{"iat -(2^53 + 1)", withClaimReplaced(t, claims, "iat", "-9007199254740993"), "iat claim out of range"},
		attack{"exp 1e999999999 (no work on the exponent)", withClaimReplaced(t, claims, "exp", "1e999999999"), "exp claim out of range"},
	)
	return rows
}

// withClaimReplaced signs the claims with one member's raw JSON replaced.
func withClaimReplaced(t testing.TB, claims map[string]any, name, raw string) string {
	c := map[string]any{}
	for k, v := range claims {
		if k != name {
			c[k] = v
		}
	}
	pl := atkJSON(c)
	return atkSign(t, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, strings.TrimSuffix(pl, "}")+`,"`+name+`":`+raw+`}`)
}

var headerModes = []struct {
	name string
	opts e2etest.StackOpts
}{
	{"default mode", e2etest.StackOpts{}},
	{"pause_on_headers mode", e2etest.StackOpts{ExtraConfig: `, "stream": {"pause_on_headers": true}`,
		HostConfig: func(c *envoyhost.Config) { c.AllowOnHeadersStopIteration = true }}},
}

func TestAttackTable(t *testing.T) {
	rows := attackTable(t)
	for _, mode := range headerModes {
		t.Run(mode.name, func(t *testing.T) {
			st := e2etest.NewStack(t, mode.opts)
			for _, a := range rows {
				t.Run(a.name, func(t *testing.T) {
					r := st.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`)
					r.Headers[1] = [2]string{"x-firmly-authorization", a.token}
					calls, upstream := len(st.Host.Callouts()), len(st.App.Received())
					resp := st.Do(t, r)
					e := e2etest.DecodeError(t, resp)
					if resp.Status != 401 || e.Error != "MissingAuthHeader" || !strings.Contains(e.Description, a.want) {
						t.Errorf("got %d %s %q, want 401 MissingAuthHeader containing %q", resp.Status, e.Error, e.Description, a.want)
					}
					if got := len(st.Host.Callouts()); got != calls {
						t.Errorf("got %d new callouts, want none", got-calls)
					}
					if got := len(st.App.Received()); got != upstream {
						t.Errorf("the route's upstream got %d requests, want none", got-upstream)
					}
					if got := resp.Header("www-authenticate"); got != `Bearer realm="session-transfer", error="invalid_token"` {
						t.Errorf("www-authenticate %q, want the invalid_token challenge", got)
					}
					leaks(t, st, resp, a.token)
					printableLogs(t, st.Host)
				})
			}
		})
	}
}

// leaks fails when the token, or any long part of it, is in the answer or
// a log line.
func leaks(t *testing.T, st *e2etest.Stack, resp *envoyhost.Response, tok string) {
	t.Helper()
	pieces := []string{strings.TrimSpace(tok)}
	for _, p := range strings.Split(tok, ".") {
		if len(p) >= 16 {
			pieces = append(pieces, p)
		}
	}
	logs := st.Host.LogText()
	for _, p := range pieces {
		if len(p) >= 16 && (strings.Contains(string(resp.Body), p) || strings.Contains(logs, p)) {
			t.Errorf("a piece of the token (%d bytes) is in the answer or the logs", len(p))
			return
		}
	}
}

// The attack table's rows are refused for their cause, not by accident:
// the same stack accepts the well-formed tokens they are derived from.
func TestAttackTableBaselineIsAccepted(t *testing.T) {
	pl := atkJSON(e2etest.DeviceClaims())
	for _, mode := range headerModes {
		t.Run(mode.name, func(t *testing.T) {
			st := e2etest.NewStack(t, mode.opts)
			for _, tok := range []string{
				atkSign(t, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, pl),
				atkSign(t, "ES256", `{"alg":"ES256","kid":"ec-1"}`, pl),
				atkSign(t, "HS256", `{"alg":"HS256"}`, pl),
				" \tBearer\t" + atkSign(t, "RS256", `{"alg":"RS256"}`, pl) + "\t ",
			} {
				r := st.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`)
				r.Headers[1] = [2]string{"x-firmly-authorization", tok}
				if resp := st.Do(t, r); resp.Status != 200 {
					t.Errorf("got %d %s, want 200 for a well-formed token", resp.Status, resp.Body)
				}
			}
		})
	}
}

// Weak or foreign keys in the inline JWKS refuse the plugin's start, with
// the critical line naming the key.
func TestWeakInlineKeysRefuseTheStart(t *testing.T) {
	rsaKey, _ := e2etest.TestKeys(t) // the rows below need it, also when this test runs alone
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	odd := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 2047), big.NewInt(1))
	for _, c := range []struct{ name, key, want string }{
		{"RSA of 1024 bits", fmt.Sprintf(`{"kty":"RSA","kid":"weak","n":%q,"e":"AQAB"}`, e2etest.B64u(small.N.Bytes())), "RSA key of 1024 bits: at least 2048 required"},
		{"RSA of 2047 bits", fmt.Sprintf(`{"kty":"RSA","kid":"weak","n":%q,"e":"AQAB"}`, e2etest.B64u(odd.Bytes())), "RSA key of 2047 bits"},
		{"RSA with exponent 1", fmt.Sprintf(`{"kty":"RSA","kid":"weak","n":%q,"e":"AQ"}`, e2etest.B64u(rsaKey.N.Bytes())), "invalid exponent"},
		{"EC on P-384", `{"kty":"EC","kid":"p384","crv":"P-384","x":"AA","y":"AA"}`, `curve "P-384"`},
		{"a symmetric key", `{"kty":"oct","kid":"hs","k":"c2VjcmV0"}`, `kty "oct"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := strings.Replace(e2etest.PluginConfig(t, e2etest.StackOpts{}), `{"keys":[`, `{"keys":[`+c.key+`,`, 1)
			ctx := e2etest.TestContext(t)
			h, err := envoyhost.Start(ctx, e2etest.PluginWasm(t), envoyhost.Config{PluginConfig: []byte(cfg)})
			if err == nil {
				h.Close(ctx)
				t.Fatal("the plugin started")
			}
			if !strings.Contains(err.Error(), "auth.jwks.keys[0]") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want the critical line naming auth.jwks.keys[0] and %q", err, c.want)
			}
		})
	}
}

func TestMaxTokenBytesIsConfigurable(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{HostConfig: func(c *envoyhost.Config) {
		c.PluginConfig = []byte(strings.Replace(string(c.PluginConfig), `"allowed_app_ids"`, `"max_token_bytes": 1024, "allowed_app_ids"`, 1))
	}})
	c := e2etest.DeviceClaims()
	c["pad"] = strings.Repeat("p", 700)
	tok := atkSign(t, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, atkJSON(c))
	r := st.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`)
	r.Headers[1] = [2]string{"x-firmly-authorization", tok}
	resp := st.Do(t, r)
	if e := e2etest.DecodeError(t, resp); resp.Status != 401 || e.Description != "invalid device token: token larger than 1024 bytes" {
		t.Errorf("got %d %q, want 401 token larger than 1024 bytes", resp.Status, e.Description)
	}
	if len(st.Host.Callouts()) != 0 {
		t.Error("a callout was made")
	}
}

// With remote_jwks and no inline key, a VM that has not loaded a key set
// answers a well-formed token 503 ErrorAuthUnavailable; no token stays 401.
func TestAuthUnavailableWithoutKeys(t *testing.T) {
	for _, mode := range headerModes {
		t.Run(mode.name, func(t *testing.T) {
			st := e2etest.NewStack(t, e2etest.StackOpts{ExtraConfig: mode.opts.ExtraConfig, HostConfig: func(c *envoyhost.Config) {
				if mode.opts.HostConfig != nil {
					mode.opts.HostConfig(c)
				}
				// No inline keys, no HS256 secret, and a JWKS cluster that
				// does not exist, so no fetch can succeed.
				cfg := strings.Replace(string(c.PluginConfig), e2etest.JWKS(t), `{"keys":[]}`, 1)
				cfg = strings.Replace(cfg, fmt.Sprintf(`"hs256_secret": %q`, e2etest.TestHS256), `"remote_jwks": {"cluster": "no_such_jwks", "path": "/jwks.json"}`, 1)
				c.PluginConfig = []byte(cfg)
			}})
			r := st.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`)
			resp := st.Do(t, r)
			if e := e2etest.DecodeError(t, resp); resp.Status != 503 || e.Error != "ErrorAuthUnavailable" || e.Description != "device-token keys are not available yet" {
				t.Errorf("got %d %s %q, want 503 ErrorAuthUnavailable", resp.Status, e.Error, e.Description)
			}
			r.Headers = r.Headers[:1]
			r.Headers = append(r.Headers, [2]string{"x-request-id", "req-2"})
			if resp := st.Do(t, r); resp.Status != 401 {
				t.Errorf("got %d without a token, want 401", resp.Status)
			}
			if len(st.Merchant.Received()) != 0 || len(st.App.Received()) != 0 {
				t.Error("the merchant or the upstream was contacted")
			}
		})
	}
}

package authtest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

// The key rules of SPEC §2.2/§2.2b (issue 17) against plugin.wasm: keys an
// issuer should never serve refuse an inline configuration, are skipped
// one by one from a remote set (a warn line and a counter each), and a
// token without a kid is tried against at most 4 keys.

// withKeyOps adds a key_ops member to a JWK.
func withKeyOps(jwk, ops string) string {
	return strings.Replace(jwk, `{`, `{"key_ops":`+ops+`,`, 1)
}

func TestInlineKeysBreakingAKeyRuleRefuseTheStart(t *testing.T) {
	r, _ := e2etest.TestKeys(t)
	es := newECSigner(t, "ec-x")
	huge := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 8192), big.NewInt(1))
	var seventeen []string
	for i := 0; i < 17; i++ {
		seventeen = append(seventeen, newECSigner(t, fmt.Sprint("k-", i)).jwk())
	}
	for _, c := range []struct{ name, keys, want string }{
		{"key_ops without verify (RSA)", withKeyOps(fmt.Sprintf(`{"kty":"RSA","kid":"enc","n":%q,"e":"AQAB"}`, e2etest.B64u(r.N.Bytes())), `["encrypt"]`), `auth.jwks.keys[0]: key_ops does not allow "verify"`},
		{"key_ops without verify (EC)", withKeyOps(es.jwk(), `["sign"]`), `auth.jwks.keys[0]: key_ops does not allow "verify"`},
		{"use enc", strings.Replace(es.jwk(), `"use":"sig"`, `"use":"enc"`, 1), `auth.jwks.keys[0]: use "enc"`},
		{"RSA exponent 3", fmt.Sprintf(`{"kty":"RSA","kid":"e3","n":%q,"e":"Aw"}`, e2etest.B64u(r.N.Bytes())), "auth.jwks.keys[0]: RSA key has an invalid exponent: only 65537"},
		{"RSA exponent 2^31-1", fmt.Sprintf(`{"kty":"RSA","kid":"e31","n":%q,"e":"f____w"}`, e2etest.B64u(r.N.Bytes())), "only 65537"},
		{"RSA of 8192 bits", fmt.Sprintf(`{"kty":"RSA","kid":"big","n":%q,"e":"AQAB"}`, e2etest.B64u(huge.Bytes())), "RSA key of 8192 bits: at most 4096"},
		{"17 keys", strings.Join(seventeen, ","), "auth.jwks.keys: 17 usable keys, at most 16"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := strings.Replace(e2etest.PluginConfig(t, e2etest.StackOpts{}), e2etest.JWKS(t), `{"keys":[`+c.keys+`]}`, 1)
			ctx := e2etest.TestContext(t)
			h, err := envoyhost.Start(ctx, e2etest.PluginWasm(t), envoyhost.Config{PluginConfig: []byte(cfg)})
			if err == nil {
				h.Close(ctx)
				t.Fatal("the plugin started")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want the critical line naming %q", err, c.want)
			}
		})
	}
}

// A token without a kid costs at most 4 signature checks: with 5 keys of
// its algorithm it is 401 at once, and no merchant is called.
func TestKidlessTokenWithMoreThanFourKeysIs401(t *testing.T) {
	signers := []ecSigner{}
	var jwk []string
	for i := 0; i < 5; i++ {
		s := newECSigner(t, fmt.Sprint("ec-", i))
		signers = append(signers, s)
		jwk = append(jwk, s.jwk())
	}
	st := e2etest.NewStack(t, e2etest.StackOpts{HostConfig: func(c *envoyhost.Config) {
		c.PluginConfig = []byte(strings.Replace(string(c.PluginConfig), e2etest.JWKS(t), `{"keys":[`+strings.Join(jwk, ",")+`]}`, 1))
	}})
	kidless := func(s ecSigner) string {
		return atkSignWith(t, s, `{"alg":"ES256"}`, atkJSON(e2etest.DeviceClaims()))
	}
	r := st.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`)
	r.Headers[1] = [2]string{"x-firmly-authorization", kidless(signers[4])}
	resp := st.Do(t, r)
	if e := e2etest.DecodeError(t, resp); resp.Status != 401 || e.Description != "invalid device token: token has no kid and 5 keys could have signed it" {
		t.Errorf("got %d %q, want 401 naming 5 keys", resp.Status, e.Description)
	}
	if resp.Header("www-authenticate") != `Bearer realm="session-transfer", error="invalid_token"` {
		t.Errorf("www-authenticate %q", resp.Header("www-authenticate"))
	}
	if len(st.Host.Callouts()) != 0 {
		t.Error("a callout was made")
	}
	// The same key named by its kid is fine.
	r.Headers[1] = [2]string{"x-firmly-authorization", signers[4].token(t)}
	if resp := st.Do(t, r); resp.Status != 200 {
		t.Errorf("with a kid: got %d %s", resp.Status, resp.Body)
	}
}

// atkSignWith signs header and payload as given with an ES256 signer.
func atkSignWith(t testing.TB, s ecSigner, header, payload string) string {
	in := e2etest.B64u([]byte(header)) + "." + e2etest.B64u([]byte(payload))
	return in + "." + esSign(t, s, in)
}

// A remote answer is read as strictly as a token: a repeated member or
// invalid UTF-8 is a failed fetch, and the keys are not loaded.
func TestRemoteJWKSParsedAsStrictlyAsAToken(t *testing.T) {
	good := newECSigner(t, "k-1")
	for _, c := range []struct{ name, body, cause string }{
		{"keys given twice", `{"keys":[` + good.jwk() + `],"keys":[]}`, "duplicate member name"},
		{"a key member given twice", `{"keys":[` + strings.Replace(good.jwk(), `"kty":"EC"`, `"kty":"EC","kty":"EC"`, 1) + `]}`, "duplicate member name"},
		{"invalid UTF-8", `{"keys":[` + good.jwk() + `],"x":"` + "\xff" + `"}`, "not valid UTF-8"},
		{"17 usable keys", func() string {
			var k []string
			for i := 0; i < 16; i++ {
				k = append(k, newECSigner(t, fmt.Sprint("o-", i)).jwk())
			}
			return `{"keys":[` + good.jwk() + "," + strings.Join(k, ",") + `]}`
		}(), "17 usable keys, at most 16"},
		{"only odd keys", `{"keys":[` + withKeyOps(good.jwk(), `["encrypt"]`) + `]}`, "no usable RS256 or ES256 key (1 skipped)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			js := newJWKSStack(t, jwksOpts{})
			js.jwks.Answer(200, c.body)
			js.advance(t, 1)
			if s, f := js.metric("jwks_fetch_success"), js.metric("jwks_fetch_failure"); s != 0 || f != 1 {
				t.Errorf("jwks_fetch_success %d, _failure %d; want 0 and 1", s, f)
			}
			if !strings.Contains(js.Host.LogText(), c.cause) {
				t.Errorf("no log line names %q:\n%s", c.cause, js.Host.LogText())
			}
			e2etest.WantStatus(t, js.transfer(t, good.token(t)), 503, "ErrorAuthUnavailable")
			printableLogs(t, js.Host)
		})
	}
}

// Odd keys in a fetched set are skipped one by one, each with a warn line
// naming it and its cause and a count; the usable rest is loaded, so a
// rotation is never held back by a key not meant for this filter.
func TestRemoteJWKSSkipsOddKeysOneByOne(t *testing.T) {
	good := newECSigner(t, "k-good")
	enc := newECSigner(t, "k-enc")
	r, _ := e2etest.TestKeys(t)
	body := `{"keys":[` + strings.Join([]string{
		withKeyOps(enc.jwk(), `["encrypt"]`),
		fmt.Sprintf(`{"kty":"RSA","kid":"k-e3","n":%q,"e":"Aw"}`, e2etest.B64u(r.N.Bytes())),
		`{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}`,
		`{"kty":"oct","kid":"k-hmac","k":"c2VjcmV0"}`,
		`{"kty":"RSA","kid":"k-bad\u2028kid","n":"AQAB","e":"AQAB"}`,
		good.jwk(),
	}, ",") + `]}`
	js := newJWKSStack(t, jwksOpts{})
	js.jwks.Answer(200, body)
	js.advance(t, 1)
	if s, f, k := js.metric("jwks_fetch_success"), js.metric("jwks_fetch_failure"), js.metric("jwks_keys_skipped"); s != 1 || f != 0 || k != 5 {
		t.Errorf("jwks_fetch_success %d, _failure %d, jwks_keys_skipped %d; want 1, 0, 5", s, f, k)
	}
	warns := strings.Join(js.Host.LogsAt(envoyhost.LevelWarn), "\n")
	for _, want := range []string{
		`skipping key kid "k-enc": key_ops does not allow "verify"`,
		`skipping key kid "k-e3": RSA key has an invalid exponent`,
		`skipping key keys[2]: curve "P-384"`,
		`skipping key kid "k-hmac": kty "oct"`,
		`skipping key keys[4]: `,
	} {
		if !strings.Contains(warns, want) {
			t.Errorf("no warn line holds %q:\n%s", want, warns)
		}
	}
	printableLogs(t, js.Host)
	e2etest.CartOf(t, js.transfer(t, good.token(t)))
	// A token for the skipped key is an unknown kid once the set loaded.
	e2etest.WantStatus(t, js.transfer(t, enc.token(t)), 401, "MissingAuthHeader")
}

// esSign is an ES256 signature (r||s) of in, base64url.
func esSign(t testing.TB, s ecSigner, in string) string {
	h := sha256.Sum256([]byte(in))
	r, ss, err := ecdsa.Sign(rand.Reader, s.key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return e2etest.B64u(append(r.FillBytes(make([]byte, 32)), ss.FillBytes(make([]byte, 32))...))
}

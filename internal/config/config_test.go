package config

import (
	"strings"
	"testing"
)

const secret = "test-secret-0123456789abcdef0123456789abcdef"

const minimal = `{"session_key":{"secret":"` + secret + `"},"auth":{"hs256_secret":"hs-0123456789abcdef0123456789abcdef"},` +
	`"backend":{"cluster":"session_backend"}}`

func env(vars map[string]string) Getenv {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth.LeewaySeconds != 30 || c.Handle.HandleMinLength != 36 || c.Handle.TokenMinLength != 36 || c.Handle.MaxCookies != 64 ||
		c.Limits.MaxBodyBytes != 65536 || c.Limits.MaxLineItems != 250 || c.Limits.MaxMerchantResponseBytes != 1<<20 ||
		c.PauseOnHeaders || len(c.Merchants) != 0 || string(c.SessionKey) != secret {
		t.Errorf("defaults: %+v", c)
	}
	if b := c.Backend; b.Authority != "session_backend" || b.PathPrefix != "/v1/sessions/" || b.TimeoutMs != 2000 {
		t.Errorf("backend defaults: %+v", b)
	}
}

func TestMerchant(t *testing.T) {
	c, err := Parse([]byte(`{"session_key":{"secret":"`+secret+`"},"backend":{"cluster":"b","authority":"sessions.internal"},"auth":{"hs256_secret":"hs-0123456789abcdef0123456789abcdef"},
	  "merchants":{"staging.luma.gift":{"cluster":"merchant_luma","headers":{"X-Api-Key":"k","a":"b"},"payment_method_options":[{"type":"CreditCard"}]},
	  "shop.test":{"cluster":"m2","authority":"api.shop.test","export_path":"/x","timeout_ms":500,"display_name":"Shop","platform_id":"shopify"}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Merchants["staging.luma.gift"]
	if m.Authority != "staging.luma.gift" || m.ExportPath != "/firmly/session/export" || m.TimeoutMs != 2000 || m.DisplayName != "staging.luma.gift" ||
		len(m.Headers) != 2 || m.Headers[0] != [2]string{"a", "b"} || m.Headers[1] != [2]string{"x-api-key", "k"} ||
		m.PaymentMethodOptions != `[{"type":"CreditCard"}]` {
		t.Errorf("luma: %+v", m)
	}
	m = c.Merchants["shop.test"]
	if m.Authority != "api.shop.test" || m.ExportPath != "/x" || m.TimeoutMs != 500 || m.DisplayName != "Shop" || m.PlatformID != "shopify" || m.PaymentMethodOptions != "[]" {
		t.Errorf("shop: %+v", m)
	}
}

func TestAuthKeys(t *testing.T) {
	base := `{"session_key":{"secret":"` + secret + `"},"backend":{"cluster":"b"},"auth":`
	t.Run("the new auth keys have their defaults", func(t *testing.T) {
		c, err := Parse([]byte(minimal), nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Auth.MaxTokenBytes != 8192 || c.Auth.TokenCacheEntries != 1024 || c.Auth.RemoteJWKS != nil {
			t.Errorf("got max_token_bytes %d, token_cache_entries %d, remote_jwks %+v; want 8192, 1024, nil",
				c.Auth.MaxTokenBytes, c.Auth.TokenCacheEntries, c.Auth.RemoteJWKS)
		}
	})
	t.Run("remote_jwks alone is enough to start, with its defaults", func(t *testing.T) {
		c, err := Parse([]byte(base+`{"remote_jwks":{"cluster":"jwks","path":"/.well-known/jwks.json"}}}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := RemoteJWKS{Cluster: "jwks", Authority: "jwks", Path: "/.well-known/jwks.json", TimeoutMs: 2000, RefreshSeconds: 600, RetrySeconds: 5, MinRefetchSeconds: 30}
		if c.Auth.RemoteJWKS == nil || *c.Auth.RemoteJWKS != want {
			t.Errorf("got %+v, want %+v", c.Auth.RemoteJWKS, want)
		}
	})
	t.Run("every remote_jwks key and the limits are read", func(t *testing.T) {
		c, err := Parse([]byte(base+`{"max_token_bytes":1024,"token_cache_entries":0,"jwks":{"keys":[]},
		  "remote_jwks":{"cluster":"jwks","authority":"keys.internal","path":"/k","timeout_ms":60000,"refresh_seconds":86400,"retry_seconds":3600,"min_refetch_seconds":0}}}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := RemoteJWKS{Cluster: "jwks", Authority: "keys.internal", Path: "/k", TimeoutMs: 60000, RefreshSeconds: 86400, RetrySeconds: 3600}
		if *c.Auth.RemoteJWKS != want || c.Auth.MaxTokenBytes != 1024 || c.Auth.TokenCacheEntries != 0 {
			t.Errorf("got %+v, max %d, cache %d; want %+v, 1024, 0", c.Auth.RemoteJWKS, c.Auth.MaxTokenBytes, c.Auth.TokenCacheEntries, want)
		}
	})
}

func TestSecretsFromEnvironment(t *testing.T) {
	c, err := Parse([]byte(`{"session_key":{"secret_env":"SK"},"auth":{"hs256_secret_env":"HS"},"backend":{"cluster":"b"}}`),
		env(map[string]string{"SK": secret, "HS": "hs-0123456789abcdef0123456789abcdef"}))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.SessionKey) != secret || string(c.Auth.HS256Secret) != "hs-0123456789abcdef0123456789abcdef" {
		t.Errorf("secrets not read from the environment: %+v", c)
	}
}

func TestRefusals(t *testing.T) {
	sk := `"session_key":{"secret":"` + secret + `"}`
	be := `"backend":{"cluster":"b"}`
	for _, c := range []struct{ name, config, key string }{
		{"empty", ``, "session_key.secret"},
		{"not JSON", `{`, "(root)"},
		{"not an object", `[]`, "(root)"},
		{"unknown top-level key", `{` + sk + `,` + be + `,"merchant":{}}`, "merchant"},
		{"duplicate key", `{` + sk + `,` + sk + `,` + be + `}`, "session_key"},
		{"no secret", `{` + be + `}`, "session_key.secret"},
		{"short secret", `{"session_key":{"secret":"short"},` + be + `}`, "session_key.secret"},
		{"secret and env", `{"session_key":{"secret":"` + secret + `","secret_env":"X"},` + be + `}`, "session_key.secret_env"},
		{"env not set", `{"session_key":{"secret_env":"NOPE"},` + be + `}`, "session_key.secret_env"},
		{"short hs256 secret", `{` + sk + `,` + be + `,"auth":{"hs256_secret":"x"}}`, "auth.hs256_secret"},
		{"leeway not an integer", `{` + sk + `,` + be + `,"auth":{"leeway_seconds":1.5}}`, "auth.leeway_seconds"},
		{"leeway negative", `{` + sk + `,` + be + `,"auth":{"leeway_seconds":-1}}`, "auth.leeway_seconds"},
		{"jwks without keys", `{` + sk + `,` + be + `,"auth":{"jwks":{}}}`, "auth.jwks"},
		{"app ids not strings", `{` + sk + `,` + be + `,"auth":{"allowed_app_ids":[1]}}`, "auth.allowed_app_ids[0]"},
		{"unknown auth key", `{` + sk + `,` + be + `,"auth":{"issuer":"a","isuser":"b"}}`, "auth.isuser"},
		// An explicit "" would replace a derived default with an empty :authority.
		{"empty backend authority", `{` + sk + `,"backend":{"cluster":"b","authority":""},"auth":{"hs256_secret":"hs-0123456789abcdef0123456789abcdef"}}`, "backend.authority"},
		{"empty merchant authority", `{` + sk + `,` + be + `,"auth":{"hs256_secret":"hs-0123456789abcdef0123456789abcdef"},"merchants":{"shop.test":{"cluster":"m","authority":""}}}`, "merchants.shop.test.authority"},
		{"empty display name", `{` + sk + `,` + be + `,"auth":{"hs256_secret":"hs-0123456789abcdef0123456789abcdef"},"merchants":{"shop.test":{"cluster":"m","display_name":""}}}`, "merchants.shop.test.display_name"},
		{"empty remote_jwks authority", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"j","path":"/k","authority":""}}}`, "auth.remote_jwks.authority"},
		// SPEC §3: 1..256 bytes of visible ASCII in every cluster, authority, path and prefix.
		{"backend authority with CR LF", `{` + sk + `,"backend":{"cluster":"b","authority":"a\r\nx: 1"}}`, "backend.authority"},
		{"backend authority with a space", `{` + sk + `,"backend":{"cluster":"b","authority":"a b"}}`, "backend.authority"},
		{"backend authority with U+0085", `{` + sk + `,"backend":{"cluster":"b","authority":"a\u0085"}}`, "backend.authority"},
		{"backend cluster with a tab", `{` + sk + `,"backend":{"cluster":"b\t"}}`, "backend.cluster"},
		{"backend cluster of 257 bytes", `{` + sk + `,"backend":{"cluster":"` + strings.Repeat("b", 257) + `"}}`, "backend.cluster"},
		{"backend prefix with DEL", `{` + sk + `,"backend":{"cluster":"b","path_prefix":"/v1/\u007f"}}`, "backend.path_prefix"},
		{"backend prefix of 257 bytes", `{` + sk + `,"backend":{"cluster":"b","path_prefix":"/` + strings.Repeat("p", 256) + `"}}`, "backend.path_prefix"},
		{"merchant cluster with LF", `{` + sk + `,` + be + `,"merchants":{"a.test":{"cluster":"m\n"}}}`, "merchants.a.test.cluster"},
		{"merchant authority with LF", `{` + sk + `,` + be + `,"merchants":{"a.test":{"cluster":"m","authority":"a.test\n"}}}`, "merchants.a.test.authority"},
		{"merchant export path with NUL", `{` + sk + `,` + be + `,"merchants":{"a.test":{"cluster":"m","export_path":"/x\u0000"}}}`, "merchants.a.test.export_path"},
		{"merchant export path with U+2028", `{` + sk + `,` + be + `,"merchants":{"a.test":{"cluster":"m","export_path":"/x\u2028"}}}`, "merchants.a.test.export_path"},
		{"remote_jwks cluster with CR", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"j\r","path":"/k"}}}`, "auth.remote_jwks.cluster"},
		{"remote_jwks authority with LF", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"j","path":"/k","authority":"i\nx"}}}`, "auth.remote_jwks.authority"},
		{"remote_jwks path with a space", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"j","path":"/k k"}}}`, "auth.remote_jwks.path"},
		{"remote_jwks empty path", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"j","path":""}}}`, "auth.remote_jwks.path"},
		{"no backend", `{` + sk + `}`, "backend.cluster"},
		{"backend without cluster", `{` + sk + `,"backend":{"authority":"x"}}`, "backend.cluster"},
		{"backend bad prefix", `{` + sk + `,"backend":{"cluster":"b","path_prefix":"v1/"}}`, "backend.path_prefix"},
		{"backend timeout zero", `{` + sk + `,"backend":{"cluster":"b","timeout_ms":0}}`, "backend.timeout_ms"},
		{"reserved backend header", `{` + sk + `,"backend":{"cluster":"b","headers":{"Idempotency-Key":"x"}}}`, "backend.headers.Idempotency-Key"},
		{"pseudo header", `{` + sk + `,"backend":{"cluster":"b","headers":{":path":"x"}}}`, "backend.headers.:path"},
		{"header with newline", `{` + sk + `,"backend":{"cluster":"b","headers":{"x":"a\nb"}}}`, "backend.headers.x"},
		{"merchant without cluster", `{` + sk + `,` + be + `,"merchants":{"a.test":{}}}`, "merchants.a.test.cluster"},
		{"merchant invalid domain", `{` + sk + `,` + be + `,"merchants":{"not a domain":{"cluster":"m"}}}`, "merchants.not a domain"},
		{"merchant domain not normalised", `{` + sk + `,` + be + `,"merchants":{"WWW.A.test":{"cluster":"m"}}}`, "merchants.WWW.A.test"},
		{"merchant unknown key", `{` + sk + `,` + be + `,"merchants":{"a.test":{"cluster":"m","timeout":1}}}`, "merchants.a.test.timeout"},
		{"merchant payment options not an array", `{` + sk + `,` + be + `,"merchants":{"a.test":{"cluster":"m","payment_method_options":{}}}}`, "merchants.a.test.payment_method_options"},
		{"limit too small", `{` + sk + `,` + be + `,"limits":{"max_body_bytes":10}}`, "limits.max_body_bytes"},
		{"pause_on_headers not bool", `{` + sk + `,` + be + `,"stream":{"pause_on_headers":"yes"}}`, "stream.pause_on_headers"},
		{"handle min length zero", `{` + sk + `,` + be + `,"handle":{"min_length":0}}`, "handle.min_length"},
		{"no verification key at all", `{` + sk + `,` + be + `}`, "auth.jwks"},
		{"an empty JWKS and nothing else", `{` + sk + `,` + be + `,"auth":{"jwks":{"keys":[]}}}`, "auth.jwks"},
		{"max token bytes too small", `{` + sk + `,` + be + `,"auth":{"max_token_bytes":1023}}`, "auth.max_token_bytes"},
		{"max token bytes too large", `{` + sk + `,` + be + `,"auth":{"max_token_bytes":65537}}`, "auth.max_token_bytes"},
		{"max token bytes not an integer", `{` + sk + `,` + be + `,"auth":{"max_token_bytes":"8k"}}`, "auth.max_token_bytes"},
		{"cache entries negative", `{` + sk + `,` + be + `,"auth":{"token_cache_entries":-1}}`, "auth.token_cache_entries"},
		{"cache entries too many", `{` + sk + `,` + be + `,"auth":{"token_cache_entries":65537}}`, "auth.token_cache_entries"},
		{"remote jwks not an object", `{` + sk + `,` + be + `,"auth":{"remote_jwks":"http://x"}}`, "auth.remote_jwks"},
		{"remote jwks without cluster", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"path":"/jwks"}}}`, "auth.remote_jwks.cluster"},
		{"remote jwks without path", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"jwks"}}}`, "auth.remote_jwks.path"},
		{"remote jwks relative path", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"jwks","path":"jwks"}}}`, "auth.remote_jwks.path"},
		{"remote jwks unknown key", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"jwks","path":"/j","refresh":60}}}`, "auth.remote_jwks.refresh"},
		{"remote jwks timeout zero", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"jwks","path":"/j","timeout_ms":0}}}`, "auth.remote_jwks.timeout_ms"},
		{"remote jwks timeout too long", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"jwks","path":"/j","timeout_ms":60001}}}`, "auth.remote_jwks.timeout_ms"},
		{"remote jwks refetch window under 5 s", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"jwks","path":"/j","min_refetch_seconds":4}}}`, "auth.remote_jwks.min_refetch_seconds"},
		{"remote jwks refetch window over an hour", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"jwks","path":"/j","min_refetch_seconds":3601}}}`, "auth.remote_jwks.min_refetch_seconds"},
		{"remote jwks refresh too often", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"jwks","path":"/j","refresh_seconds":29}}}`, "auth.remote_jwks.refresh_seconds"},
		{"remote jwks refresh too rare", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"jwks","path":"/j","refresh_seconds":86401}}}`, "auth.remote_jwks.refresh_seconds"},
		{"remote jwks retry zero", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"jwks","path":"/j","retry_seconds":0}}}`, "auth.remote_jwks.retry_seconds"},
		{"remote jwks retry too rare", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":"jwks","path":"/j","retry_seconds":3601}}}`, "auth.remote_jwks.retry_seconds"},
		{"remote jwks cluster not a string", `{` + sk + `,` + be + `,"auth":{"remote_jwks":{"cluster":1,"path":"/j"}}}`, "auth.remote_jwks.cluster"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.config), env(map[string]string{}))
			if err == nil {
				t.Fatal("accepted")
			}
			ce, ok := err.(*Error)
			if !ok || ce.Key != c.key {
				t.Errorf("got %v, want an error naming %q", err, c.key)
			}
			if !strings.Contains(err.Error(), `"`+c.key+`"`) {
				t.Errorf("message %q does not quote the key", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("message leaks the secret: %v", err)
			}
		})
	}
}

// Property: Parse never panics, is deterministic, and an accepted
// configuration satisfies every invariant the plugin relies on.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(`{"session_key":{"secret":"` + secret + `"},"backend":{"cluster":"b"},"merchants":{"a.test":{"cluster":"m","headers":{"x":"y"}}}}`))
	f.Add([]byte(`{"limits":{"max_body_bytes":1e3}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, nil)
		_, err2 := Parse(data, nil)
		if (err == nil) != (err2 == nil) {
			t.Fatal("not deterministic")
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if len(c.SessionKey) < 32 || c.Backend.Cluster == "" || !strings.HasPrefix(c.Backend.PathPrefix, "/") ||
			c.Limits.MaxBodyBytes < 1024 || c.Handle.HandleMinLength < 1 {
			t.Fatalf("accepted an invalid configuration: %+v", c)
		}
		for d, m := range c.Merchants {
			if m.Domain != d || m.Cluster == "" || m.TimeoutMs == 0 || !strings.HasPrefix(m.ExportPath, "/") {
				t.Fatalf("invalid merchant %q: %+v", d, m)
			}
		}
	})
}

package config

import (
	"strings"
	"testing"
)

func TestVerifiedPayload(t *testing.T) {
	base := `{"session_key":{"secret":"` + secret + `"},"backend":{"cluster":"b"},"auth":`
	t.Run("alone is enough to start, with the jwt_authn namespace by default", func(t *testing.T) {
		c, err := Parse([]byte(base+`{"verified_payload":{"key":"payload"}}}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := VerifiedPayload{Namespace: "envoy.filters.http.jwt_authn", Key: "payload"}
		if c.Auth.VerifiedPayload == nil || *c.Auth.VerifiedPayload != want {
			t.Fatalf("got %+v, want %+v", c.Auth.VerifiedPayload, want)
		}
	})
	t.Run("every key is read", func(t *testing.T) {
		c, err := Parse([]byte(base+`{"verified_payload":{"namespace":"ns","key":"p","failed_status_key":"failed"},"issuer":"i","allowed_app_ids":["a"]}}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := VerifiedPayload{Namespace: "ns", Key: "p", FailedStatusKey: "failed"}
		if *c.Auth.VerifiedPayload != want || c.Auth.Issuer != "i" {
			t.Fatalf("got %+v", c.Auth)
		}
	})
	refused := []struct{ auth, key string }{
		{`{"verified_payload":{}}`, "auth.verified_payload.key"},
		{`{"verified_payload":{"key":""}}`, "auth.verified_payload.key"},
		{`{"verified_payload":{"key":1}}`, "auth.verified_payload.key"},
		{`{"verified_payload":{"key":"p","namespace":""}}`, "auth.verified_payload.namespace"},
		{`{"verified_payload":{"key":"p q"}}`, "auth.verified_payload.key"},
		{`{"verified_payload":{"key":"p","namespace":"a\nb"}}`, "auth.verified_payload.namespace"},
		{`{"verified_payload":{"key":"p","failed_status_key":""}}`, "auth.verified_payload.failed_status_key"},
		{`{"verified_payload":{"key":"p","other":1}}`, "auth.verified_payload.other"},
		{`{"verified_payload":"payload"}`, "auth.verified_payload"},
		{`{"verified_payload":{"key":"p"},"jwks":{"keys":[{"kty":"EC"}]}}`, "auth.jwks"},
		{`{"verified_payload":{"key":"p"},"hs256_secret":"` + strings.Repeat("s", 32) + `"}`, "auth.hs256_secret"},
		{`{"verified_payload":{"key":"p"},"hs256_secret_env":"S"}`, "auth.hs256_secret_env"},
		{`{"verified_payload":{"key":"p"},"remote_jwks":{"cluster":"j","path":"/k"}}`, "auth.remote_jwks"},
		{`{"verified_payload":{"key":"p"},"token_cache_entries":0}`, "auth.token_cache_entries"},
	}
	for _, tc := range refused {
		t.Run(tc.auth, func(t *testing.T) {
			_, err := Parse([]byte(base+tc.auth+`}`), func(string) (string, bool) { return strings.Repeat("s", 32), true })
			e, ok := err.(*Error)
			if !ok || e.Key != tc.key {
				t.Fatalf("got %v, want an error naming %s", err, tc.key)
			}
		})
	}
	t.Run("an empty jwks beside it is no key", func(t *testing.T) {
		if _, err := Parse([]byte(base+`{"verified_payload":{"key":"p"},"jwks":{"keys":[]}}}`), nil); err != nil {
			t.Fatal(err)
		}
	})
}

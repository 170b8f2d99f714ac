package e2etest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// Delegated verification's scenarios as data (request in, answer out), so
// the same rows run through the host's jwt_authn emulation (e2e/authtest)
// and through a real Envoy's jwt_authn (e2e/realenvoy), whose key sets and
// realms differ.

// DelegatedScenario is one transfer request in delegated mode and its
// answer. ByJwtAuthn: jwt_authn answered (Body is its text body); else the
// filter did (Error and Description of its JSON error, or 200).
type DelegatedScenario struct {
	Name            string
	Auth            []string // x-firmly-authorization values; nil: no header
	Status          int
	ByJwtAuthn      bool
	Body            string
	Error           string
	Description     string
	WWWAuthenticate string
}

// DelegatedKeys are what a deployment's jwt_authn trusts: a key of its
// JWKS (Alg, Kid, Sign) and the realm of its challenges.
type DelegatedKeys struct {
	Alg, Kid string
	// Sign signs a header and a payload, both JSON text exactly as
	// written, with the JWKS's key: "<b64u header>.<b64u payload>.<b64u sig>".
	Sign func(t testing.TB, header, payload string) string
	// Realm is jwt_authn's challenge for the transfer request:
	// Bearer realm="<scheme>://<authority><path>".
	Realm string
}

// Token signs claims (marshalled) under the key's alg and kid.
func (k DelegatedKeys) Token(t testing.TB, claims map[string]any) string {
	return k.Sign(t, fmt.Sprintf(`{"alg":%q,"kid":%q}`, k.Alg, k.Kid), jsonText(claims))
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// SignES256 signs with an EC P-256 key (the signature as r || s).
func SignES256(t testing.TB, k *ecdsa.PrivateKey, header, payload string) string {
	in := B64u([]byte(header)) + "." + B64u([]byte(payload))
	h := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	return in + "." + B64u(sig)
}

// SignRS256 signs with an RSA key (PKCS #1 v1.5).
func SignRS256(t testing.TB, k *rsa.PrivateKey, header, payload string) string {
	in := B64u([]byte(header)) + "." + B64u([]byte(payload))
	h := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + B64u(sig)
}

// DelegatedFilterRealm is the filter's own challenge for a payload it refuses.
const DelegatedFilterRealm = `Bearer realm="session-transfer", error="invalid_token"`

// The filter's claim rule for device_id (SPEC §2.2).
const delegatedDeviceIDRule = "invalid device token: device_id claim must be 1 to 256 characters of A-Z, a-z, 0-9, '_' and '-'"

// DelegatedScenarios are the rows that hold for any deployment of
// delegated verification whose jwt_authn requires the token on the transfer
// route with a clock skew of at most 60 s, and whose filter has no app
// allow-list: jwt_authn's refusals, and the filter's claim rules applied to
// what jwt_authn verified. k signs the tokens; other signs with a key
// outside the JWKS under k's alg and kid.
func DelegatedScenarios(t testing.TB, k DelegatedKeys, other func(t testing.TB, header, payload string) string) []DelegatedScenario {
	now := time.Now()
	hdr := fmt.Sprintf(`{"alg":%q,"kid":%q}`, k.Alg, k.Kid)
	signed := func(over map[string]any) string { return "Bearer " + k.Token(t, ClaimsWith(over)) }
	raw := func(payload string) string { return "Bearer " + k.Sign(t, hdr, payload) }
	invalid := k.Realm + `, error="invalid_token"`
	filter401 := func(name string, auth []string, desc string) DelegatedScenario {
		return DelegatedScenario{Name: name, Auth: auth, Status: 401, Error: "MissingAuthHeader", Description: desc, WWWAuthenticate: DelegatedFilterRealm}
	}
	jwt := func(name string, auth []string, status int, body, www string) DelegatedScenario {
		return DelegatedScenario{Name: name, Auth: auth, Status: status, ByJwtAuthn: true, Body: body, WWWAuthenticate: www}
	}
	hs := func() string {
		in := B64u([]byte(`{"alg":"HS256","kid":"`+k.Kid+`"}`)) + "." + B64u([]byte(jsonText(DeviceClaims())))
		m := hmac.New(sha256.New, []byte(TestHS256))
		m.Write([]byte(in))
		return in + "." + B64u(m.Sum(nil))
	}
	return []DelegatedScenario{
		{Name: k.Alg + " token", Auth: []string{signed(nil)}, Status: 200},
		{Name: "without exp (jwt_authn does not require one)", Auth: []string{signed(map[string]any{"exp": nil})}, Status: 200},
		{Name: "repeated header, both good", Auth: []string{signed(nil), signed(nil)}, Status: 200},
		jwt("repeated header: every token must verify", []string{signed(nil), "Bearer x.y.z"}, 401, "Jwt header is an invalid Base64url encoded", invalid),
		jwt("repeated header, the bad one first", []string{"Bearer x.y.z", signed(nil)}, 401, "Jwt header is an invalid Base64url encoded", invalid),
		jwt("no header", nil, 401, "Jwt is missing", k.Realm),
		jwt("no Bearer prefix", []string{k.Token(t, DeviceClaims())}, 401, "Jwt is missing", k.Realm),
		jwt("malformed", []string{"Bearer not-a-jwt"}, 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections", invalid),
		jwt("signed by another key", []string{"Bearer " + other(t, hdr, jsonText(DeviceClaims()))}, 401, "Jwt verification fails", invalid),
		jwt("unknown kid", []string{"Bearer " + k.Sign(t, fmt.Sprintf(`{"alg":%q,"kid":"no-such-kid"}`, k.Alg), jsonText(DeviceClaims()))}, 401, "Jwks doesn't have key to match kid or alg from Jwt", invalid),
		jwt("HS256 finds no key", []string{"Bearer " + hs()}, 401, "Jwks doesn't have key to match kid or alg from Jwt", invalid),
		jwt("expired beyond jwt_authn's skew", []string{signed(map[string]any{"exp": now.Add(-2 * time.Minute).Unix()})}, 401, "Jwt is expired", invalid),
		jwt("exp not a number", []string{raw(`{"device_id":"dev-123","exp":"soon"}`)}, 401, "Jwt payload [exp] field is not an integer", invalid),
		filter401("iat in the future", []string{signed(map[string]any{"iat": now.Add(time.Hour).Unix()})}, "invalid device token: token issued in the future"),
		filter401("missing device_id", []string{signed(map[string]any{"device_id": nil})}, "invalid device token: missing device_id claim"),
		filter401("device_id with a space", []string{signed(map[string]any{"device_id": "dev 123"})}, delegatedDeviceIDRule),
		filter401("device_id empty", []string{signed(map[string]any{"device_id": ""})}, delegatedDeviceIDRule),
		filter401("device_id a number", []string{signed(map[string]any{"device_id": 12345})}, delegatedDeviceIDRule),
		filter401("device_id true", []string{signed(map[string]any{"device_id": true})}, delegatedDeviceIDRule),
		filter401("device_id null", []string{signed(map[string]any{"device_id": json.RawMessage("null")})}, "invalid device token: device_id claim is malformed"),
		filter401("device_id a list", []string{signed(map[string]any{"device_id": []string{"dev-123"}})}, delegatedDeviceIDRule),
		filter401("app_id a number", []string{signed(map[string]any{"app_id": 1})}, "invalid device token: app_id claim must be a non-empty string"),
	}
}

// DelegatedParserScenarios are the attack table's JSON rows that depend on
// how jwt_authn parses a payload (Envoy uses protobuf's JSON parser; the
// host's emulation must answer as it does): duplicate members and a
// payload that is not UTF-8, each genuinely signed.
func DelegatedParserScenarios(t testing.TB, k DelegatedKeys) []DelegatedScenario {
	hdr := fmt.Sprintf(`{"alg":%q,"kid":%q}`, k.Alg, k.Kid)
	pl := jsonText(DeviceClaims())
	invalid := k.Realm + `, error="invalid_token"`
	badJSON := func(name, header, payload, body string) DelegatedScenario {
		return DelegatedScenario{Name: name, Auth: []string{"Bearer " + k.Sign(t, header, payload)}, Status: 401, ByJwtAuthn: true, Body: body, WWWAuthenticate: invalid}
	}
	return []DelegatedScenario{
		badJSON("duplicate device_id", hdr, `{"device_id":"evil",`+pl[1:], "Jwt payload is an invalid JSON"),
		badJSON("duplicate exp, past then future", hdr, `{"exp":1,`+pl[1:], "Jwt payload is an invalid JSON"),
		badJSON("duplicate member nested in a claim", hdr, pl[:len(pl)-1]+`,"x":{"a":[{"b":1,"b":2}]}}`, "Jwt payload is an invalid JSON"),
		badJSON("duplicate kid in the header", fmt.Sprintf(`{"alg":%q,"kid":"other","kid":%q}`, k.Alg, k.Kid), pl, "Jwt header is an invalid JSON"),
		badJSON("claims not UTF-8", hdr, pl[:len(pl)-1]+`,"x":"`+"\xff"+`"}`, "Jwt payload is an invalid JSON"),
	}
}

// ClaimsWith is DeviceClaims with over applied: a nil value removes the claim.
func ClaimsWith(over map[string]any) map[string]any {
	c := DeviceClaims()
	for key, v := range over {
		if v == nil {
			delete(c, key)
		} else {
			c[key] = v
		}
	}
	return c
}

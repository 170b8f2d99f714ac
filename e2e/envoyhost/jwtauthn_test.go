package envoyhost

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	jwtauthnv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

var jwtNow = time.Unix(1_800_000_000, 0)

func testRSAKey(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func signRS256(t *testing.T, k *rsa.PrivateKey, header, payload map[string]any) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	in := b64(h) + "." + b64(p)
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64(sig)
}

func newTestJwtAuthn(t *testing.T, k *rsa.PrivateKey, requires string) (*JwtAuthn, *Host) {
	jwks := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","n":%q,"e":"AQAB"}]}`, b64(k.N.Bytes()))
	js, _ := json.Marshal(map[string]any{
		"providers": map[string]any{"device": map[string]any{
			"issuer": "https://issuer.test", "audiences": []string{"session-transfer"},
			"local_jwks":          map[string]any{"inline_string": jwks},
			"from_headers":        []any{map[string]any{"name": "x-firmly-authorization", "value_prefix": "Bearer "}},
			"payload_in_metadata": "payload", "failed_status_in_metadata": "failed",
		}},
		"requirement_map": map[string]any{"device": json.RawMessage(requires)},
	})
	cfg := &jwtauthnv3.JwtAuthentication{}
	if err := protojson.Unmarshal(js, cfg); err != nil {
		t.Fatal(err)
	}
	ja, err := NewJwtAuthn(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ja.SetClock(func() time.Time { return jwtNow })
	h := &Host{cfg: Config{Routes: []Route{{Prefix: "/api/", Cluster: "api", JwtRequirement: "device"}, {Prefix: "/", Cluster: "api"}}}}
	return ja, h
}

// TestJwtAuthnVerdicts pins the emulation to jwt_authn's answers: status,
// body, www-authenticate, details, and the metadata it leaves.
func TestJwtAuthnVerdicts(t *testing.T) {
	k := testRSAKey(t)
	other := testRSAKey(t)
	good := map[string]any{"iss": "https://issuer.test", "aud": "session-transfer", "exp": jwtNow.Add(time.Hour).Unix(), "device_id": "dev-1"}
	with := func(over map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range good {
			out[k] = v
		}
		for k, v := range over {
			if v == nil {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		return out
	}
	hdr := map[string]any{"alg": "RS256", "kid": "k1"}
	cases := []struct {
		name, path, auth string
		status           int
		body             string
		invalid          bool // www-authenticate has error="invalid_token"
	}{
		{"valid", "/api/x", "Bearer " + signRS256(t, k, hdr, good), 0, "", false},
		{"missing", "/api/x", "", 401, "Jwt is missing", false},
		{"prefix is case-sensitive", "/api/x", "bearer " + signRS256(t, k, hdr, good), 401, "Jwt is missing", false},
		{"not three parts", "/api/x", "Bearer abc", 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections", true},
		{"alg none", "/api/x", "Bearer " + b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{}`)) + ".", 401, "Jwt header [alg] is not supported", true},
		{"wrong key", "/api/x", "Bearer " + signRS256(t, other, hdr, good), 401, "Jwt verification fails", true},
		{"unknown kid", "/api/x", "Bearer " + signRS256(t, k, map[string]any{"alg": "RS256", "kid": "k9"}, good), 401, "Jwks doesn't have key to match kid or alg from Jwt", true},
		{"HS256 finds no key", "/api/x", "Bearer " + signRS256(t, k, map[string]any{"alg": "HS256"}, good), 401, "Jwks doesn't have key to match kid or alg from Jwt", true},
		{"expired beyond the skew", "/api/x", "Bearer " + signRS256(t, k, hdr, with(map[string]any{"exp": jwtNow.Add(-2 * time.Minute).Unix()})), 401, "Jwt is expired", true},
		{"expired within the skew", "/api/x", "Bearer " + signRS256(t, k, hdr, with(map[string]any{"exp": jwtNow.Add(-30 * time.Second).Unix()})), 0, "", false},
		{"not yet valid", "/api/x", "Bearer " + signRS256(t, k, hdr, with(map[string]any{"nbf": jwtNow.Add(time.Hour).Unix()})), 401, "Jwt not yet valid", true},
		{"exp not an integer", "/api/x", "Bearer " + signRS256(t, k, hdr, with(map[string]any{"exp": "soon"})), 401, "Jwt payload [exp] field is not an integer", true},
		{"other issuer", "/api/x", "Bearer " + signRS256(t, k, hdr, with(map[string]any{"iss": "evil"})), 401, "Jwt issuer is not configured", true},
		{"other audience", "/api/x", "Bearer " + signRS256(t, k, hdr, with(map[string]any{"aud": "other"})), 403, "Audiences in Jwt are not allowed", true},
		{"no requirement on this route", "/other", "", 0, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ja, h := newTestJwtAuthn(t, k, `{"provider_name":"device"}`)
			req := Pairs{{":method", "POST"}, {":path", tc.path + "?q=1"}, {":authority", "api.test"}, {":scheme", "https"}}
			if tc.auth != "" {
				req = append(req, [2]string{"x-firmly-authorization", tc.auth})
			}
			v := ja.decode(h, req)
			if tc.status == 0 {
				if v.reply != nil {
					t.Fatalf("refused: %+v", v.reply)
				}
				if tc.path == "/api/x" {
					if _, ok := v.headers.Get("x-firmly-authorization"); ok {
						t.Error("the token header was forwarded; forward is false")
					}
					b, st := metadataProperty(v.metadata, []string{"metadata", "filter_metadata", jwtAuthnNamespace, "payload", "device_id"})
					if st != statusOK || string(b) != "dev-1" {
						t.Errorf("payload device_id: %q status %d", b, st)
					}
				}
				return
			}
			if v.reply == nil {
				t.Fatal("accepted")
			}
			www := `Bearer realm="https://api.test` + tc.path + `"`
			if tc.invalid {
				www += `, error="invalid_token"`
			}
			wantDetails := "jwt_authn_access_denied{" + strings.ReplaceAll(tc.body, " ", "_") + "}"
			if v.reply.status != tc.status || v.reply.body != tc.body || v.reply.wwwAuthenticate != www || v.reply.details != wantDetails {
				t.Fatalf("got %+v\nwant %d %q %q %q", v.reply, tc.status, tc.body, www, wantDetails)
			}
			msg, st := metadataProperty(v.metadata, []string{"metadata", "filter_metadata", jwtAuthnNamespace, "failed", "message"})
			if st != statusOK || string(msg) != tc.body {
				t.Errorf("failed_status message %q status %d", msg, st)
			}
		})
	}
}

// allow_missing_or_failed lets every request through; only a verified
// token leaves a payload, a failed one leaves its status.
func TestJwtAuthnAllowMissingOrFailed(t *testing.T) {
	k := testRSAKey(t)
	ja, h := newTestJwtAuthn(t, k, `{"allow_missing_or_failed":{}}`)
	bad := Pairs{{":path", "/api/x"}, {":authority", "a"}, {"x-firmly-authorization", "Bearer a.b.c"}}
	v := ja.decode(h, bad)
	if v.reply != nil {
		t.Fatalf("refused: %+v", v.reply)
	}
	if _, st := metadataProperty(v.metadata, []string{"metadata", "filter_metadata", jwtAuthnNamespace, "payload"}); st != statusNotFound {
		t.Errorf("a failed token left a payload (status %d)", st)
	}
	if code, st := metadataProperty(v.metadata, []string{"metadata", "filter_metadata", jwtAuthnNamespace, "failed", "code"}); st != statusOK ||
		math.Float64frombits(binary.LittleEndian.Uint64(code)) != float64(jwtHeaderBadBase64) {
		t.Errorf("failed code %x status %d", code, st)
	}
	if _, ok := v.headers.Get("x-firmly-authorization"); !ok {
		t.Error("a failed token's header was removed")
	}
}

// Envoy's serialisation of metadata leaves: string bytes, 8-byte LE
// double, one-byte bool, lists by index, null refused, absent NotFound.
func TestMetadataProperty(t *testing.T) {
	s, _ := structpb.NewStruct(map[string]any{"s": "text", "n": 1.5, "b": true, "l": []any{"a", 2.0}, "z": nil, "o": map[string]any{"k": "v"}})
	md := map[string]*structpb.Struct{"envoy.filters.http.jwt_authn": {Fields: map[string]*structpb.Value{"payload": structpb.NewStructValue(s)}}}
	p := func(segs ...string) ([]byte, uint64) {
		return metadataProperty(md, append([]string{"metadata", "filter_metadata", "envoy.filters.http.jwt_authn", "payload"}, segs...))
	}
	num := binary.LittleEndian.AppendUint64(nil, math.Float64bits(1.5))
	two := binary.LittleEndian.AppendUint64(nil, math.Float64bits(2))
	cases := []struct {
		segs   []string
		want   []byte
		status uint64
	}{
		{[]string{"s"}, []byte("text"), statusOK},
		{[]string{"n"}, num, statusOK},
		{[]string{"b"}, []byte{1}, statusOK},
		{[]string{"l", "0"}, []byte("a"), statusOK},
		{[]string{"l", "1"}, two, statusOK},
		{[]string{"l", "2"}, nil, statusNotFound},
		{[]string{"s", "0"}, nil, statusNotFound},
		{[]string{"o", "k"}, []byte("v"), statusOK},
		{[]string{"z"}, nil, statusSerializationFailure},
		{[]string{"absent"}, nil, statusNotFound},
	}
	for _, tc := range cases {
		got, st := p(tc.segs...)
		if st != tc.status || string(got) != string(tc.want) {
			t.Errorf("%v: got %q status %d, want %q status %d", tc.segs, got, st, tc.want, tc.status)
		}
		// The exported reading (the bench's native leg) answers alike.
		v, found, err := MetadataValue(md, append([]string{"envoy.filters.http.jwt_authn", "payload"}, tc.segs...)...)
		if string(v) != string(tc.want) || found != (tc.status == statusOK) || (err != nil) != (tc.status == statusSerializationFailure) {
			t.Errorf("MetadataValue %v: got %q found %v err %v, want %q status %d", tc.segs, v, found, err, tc.want, tc.status)
		}
	}
	if l, st := p("l"); st != statusOK || string(l) != string(encodePairs(Pairs{{"a", ""}, {string(two), ""}})) {
		t.Errorf("a list is pairs with empty values: %q %d", l, st)
	}
	if _, st := metadataProperty(nil, []string{"metadata", "filter_metadata", "envoy.filters.http.jwt_authn", "payload", "s"}); st != statusNotFound {
		t.Errorf("no metadata: status %d", st)
	}
}

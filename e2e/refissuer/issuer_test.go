package refissuer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cristalhq/jwt/v4"
	"github.com/tidwall/gjson"
)

func devIssuer(t *testing.T) *Issuer {
	t.Helper()
	i, err := Load("../dev/device-token-key.jwk")
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestIssuerServesTheDevelopmentKeyFirst(t *testing.T) {
	i := devIssuer(t)
	srv := httptest.NewServer(i.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + JWKSPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct{ Keys []map[string]string }
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile("../dev/device-token-key.jwk")
	dev := gjson.ParseBytes(raw)
	if len(set.Keys) != 1 {
		t.Fatalf("got %d keys, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	if k["kid"] != "dev-1" || k["x"] != dev.Get("x").Str || k["y"] != dev.Get("y").Str || k["alg"] != "ES256" || k["use"] != "sig" {
		t.Errorf("got key %v, want the public half of the development key", k)
	}
	if _, ok := k["d"]; ok {
		t.Error("the JWKS leaks the private key")
	}
	if resp.Header.Get("content-type") != "application/json" || i.Fetches() != 1 {
		t.Errorf("content-type %q, fetches %d", resp.Header.Get("content-type"), i.Fetches())
	}
}

func TestRotateReplacesTheKeyAndMintsWithTheNewOne(t *testing.T) {
	i := devIssuer(t)
	srv := httptest.NewServer(i.Handler())
	defer srv.Close()
	before := string(i.JWKS())
	resp, err := http.Post(srv.URL+"/_admin/rotate", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var rot struct{ Kid string }
	json.NewDecoder(resp.Body).Decode(&rot)
	resp.Body.Close()
	if rot.Kid != "dev-2" || i.Kid() != "dev-2" {
		t.Fatalf("rotate: got kid %q (issuer says %q), want dev-2", rot.Kid, i.Kid())
	}
	after := gjson.ParseBytes(i.JWKS())
	if n := len(after.Get("keys").Array()); n != 1 || after.Get("keys.0.kid").Str != "dev-2" || strings.Contains(before, after.Get("keys.0.x").Str) {
		t.Fatalf("after rotation the set is %s, want only a new dev-2 key", after.Raw)
	}

	got, err := MintFrom(srv.Client(), srv.URL, TokenRequest{DeviceID: "dev-9", TTLSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	if got.Kid != "dev-2" || got.ExpiresAt-time.Now().Unix() > 61 {
		t.Errorf("got kid %q expiring at %d, want dev-2 within 60 s", got.Kid, got.ExpiresAt)
	}
	i.mu.Lock()
	pub := &i.key.PublicKey
	i.mu.Unlock()
	v, _ := jwt.NewVerifierES(jwt.ES256, pub)
	tok, err := jwt.Parse([]byte(got.Token), v)
	if err != nil {
		t.Fatalf("the minted token does not verify with the new key: %v", err)
	}
	if tok.Header().KeyID != "dev-2" || !strings.Contains(string(tok.Claims()), `"device_id":"dev-9"`) {
		t.Errorf("token header %+v claims %s", tok.Header(), tok.Claims())
	}

	if _, err := i.Rotate(); err != nil || i.Kid() != "dev-3" {
		t.Errorf("second rotation: kid %q, err %v; want dev-3", i.Kid(), err)
	}
}

func TestMintDefaultsAndRefusals(t *testing.T) {
	srv := httptest.NewServer(devIssuer(t).Handler())
	defer srv.Close()
	got, err := MintFrom(srv.Client(), srv.URL, TokenRequest{})
	if err != nil || got.Kid != "dev-1" || got.Token == "" {
		t.Fatalf("default mint: got %+v, %v", got, err)
	}
	resp, _ := http.Post(srv.URL+"/_admin/tokens", "application/json", strings.NewReader("{"))
	if resp.StatusCode != 400 {
		t.Errorf("bad body: got %d, want 400", resp.StatusCode)
	}
	resp, _ = http.Get(srv.URL + "/_admin/rotate")
	if resp.StatusCode != 405 {
		t.Errorf("GET rotate: got %d, want 405", resp.StatusCode)
	}
}

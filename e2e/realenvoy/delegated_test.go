package realenvoy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
)

// Delegated verification (issue 16) through Envoy's own jwt_authn: the
// shipped envoy-delegated.yaml (only addresses and file paths substituted)
// in each pinned Envoy, and the same file in the project's host of its era,
// with e2etest's delegated scenarios and real signed tokens (the
// development issuer's key, which the reference issuer serves as the JWKS).
// Status, www-authenticate, jwt_authn's body or the filter's error and
// description, and the response details must agree, row by row.

const delegatedConfig = "envoy-delegated.yaml"

// delegatedAuthority is the Host every row is sent with, so jwt_authn's
// realm (the request's URI) is the same through every target.
const delegatedAuthority = "api.firmly.test"

func TestRealEnvoyDelegated(t *testing.T) {
	t.Parallel() // each of these tests mostly waits on Envoy; they overlap
	root, wasm := repoRoot(t), pluginWasm(t)
	keys := devIssuerKeys(t, root)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rows := e2etest.DelegatedScenarios(t, keys, func(t testing.TB, h, p string) string { return e2etest.SignES256(t, other, h, p) })
	rows = append(rows, e2etest.DelegatedParserScenarios(t, keys)...)
	var obs observations
	t.Run("legs", func(t *testing.T) {
		for _, v := range Versions() {
			t.Run("envoy-"+v, func(t *testing.T) {
				t.Parallel()
				st := StartStack(t, Setup{RepoRoot: root, Version: v, Wasm: wasm, Config: delegatedConfig})
				runDelegated(t, &target{name: "envoy-" + v, real: true, version: v, proxyURL: st.ProxyURL, adminURL: st.AdminURL,
					services: st.Services, client: newClient(), accessLog: st.AccessLog}, rows, &obs)
			})
			t.Run(hostName(v), func(t *testing.T) {
				t.Parallel()
				tg, _ := hostTarget(t, v, wasm, delegatedConfig)
				runDelegated(t, tg, rows, &obs)
			})
		}
	})
	obs.table(t)
}

func nonEmptyLines(s string) []string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// devIssuerKeys signs with the development issuer's key
// (e2e/dev/device-token-key.jwk, ES256, kid dev-1), the key the reference
// issuer serves to jwt_authn.
func devIssuerKeys(t *testing.T, root string) e2etest.DelegatedKeys {
	raw, err := os.ReadFile(filepath.Join(root, "e2e", "dev", "device-token-key.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	var j struct{ Kid, X, Y, D string }
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	num := func(s string) *big.Int {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("development key: %v", err)
		}
		return new(big.Int).SetBytes(b)
	}
	k := &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: elliptic.P256(), X: num(j.X), Y: num(j.Y)}, D: num(j.D)}
	return e2etest.DelegatedKeys{Alg: "ES256", Kid: j.Kid,
		Sign:  func(t testing.TB, h, p string) string { return e2etest.SignES256(t, k, h, p) },
		Realm: `Bearer realm="http://` + delegatedAuthority + transferPath + `"`}
}

// runDelegated sends every row through tg, checks the answer against the
// row and records what came back for the comparison.
func runDelegated(t *testing.T, tg *target, rows []e2etest.DelegatedScenario, obs *observations) {
	for _, sc := range rows {
		t.Run(sc.Name, func(t *testing.T) {
			x := tg.delegatedDo(t, sc.Auth)
			what := fmt.Sprintf("%d www-authenticate=%q details=%s outcome=%s", x.status, x.header.Get("www-authenticate"),
				x.logField("response_code_details"), x.logField("outcome"))
			var e struct{ Error, Description string }
			switch {
			case x.status == 200:
				what += fmt.Sprintf(" device_id=%s kid=%s", x.logField("device_id"), x.logField("kid"))
			case json.Unmarshal(x.body, &e) == nil:
				what += fmt.Sprintf(" error=%s description=%q", e.Error, e.Description)
			default:
				what += fmt.Sprintf(" body=%q", x.body)
			}
			obs.add("delegated: "+sc.Name, tg.name, what)
			want := fmt.Sprintf("%d www-authenticate=%q", sc.Status, sc.WWWAuthenticate)
			switch {
			case sc.Status == 200:
				want = "200 device_id=dev-123 kid=delegated"
				if x.status != 200 || x.logField("device_id") != "dev-123" || x.logField("kid") != "delegated" {
					t.Errorf("%s: got %s, want %s", tg.name, what, want)
				}
			case sc.ByJwtAuthn:
				want += fmt.Sprintf(" body=%q details=jwt_authn_access_denied{...}", sc.Body)
				if x.status != sc.Status || x.header.Get("www-authenticate") != sc.WWWAuthenticate || string(x.body) != sc.Body ||
					!strings.HasPrefix(x.logField("response_code_details"), "jwt_authn_access_denied{") {
					t.Errorf("%s: got %s, want %s", tg.name, what, want)
				}
			default:
				want += fmt.Sprintf(" error=%s description=%q", sc.Error, sc.Description)
				if x.status != sc.Status || x.header.Get("www-authenticate") != sc.WWWAuthenticate || e.Error != sc.Error || e.Description != sc.Description {
					t.Errorf("%s: got %s, want %s", tg.name, what, want)
				}
			}
		})
	}
}

// delegatedDo sends one transfer with the given x-firmly-authorization
// values (each its own header line) and the access-log line it wrote.
func (tg *target) delegatedDo(t *testing.T, auth []string) exchange {
	t.Helper()
	before := len(tg.accessLog())
	req, err := http.NewRequest("POST", tg.proxyURL+transferPath, strings.NewReader(demoBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = delegatedAuthority
	req.Header.Set("content-type", "application/json")
	for _, a := range auth {
		req.Header.Add("x-firmly-authorization", a)
	}
	resp, err := tg.client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", tg.name, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	x := exchange{status: resp.StatusCode, header: resp.Header, body: b}
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines := tg.accessLog()
		for _, l := range lines[min(before, len(lines)):] {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["method"] == "POST" && m["path"] == transferPath {
				x.log = m
				return x
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no access-log line for the transfer (%d)", tg.name, x.status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package realenvoy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cristalhq/jwt/v4"
)

// costHS256 is the measurement variant's HS256 secret.
const costHS256 = "cost-hs256-secret-0123456789abcdef0123"

// costKeys is the measurement variant: the shipped plugin configuration plus
// an inline RS256 and ES256 key and an HS256 secret, so one Envoy serves every
// token kind. Nothing else changes.
func costKeys(rsaKey *rsa.PrivateKey, ecKey *ecdsa.PrivateKey) func(Doc) error {
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	pad := func(b []byte) []byte { return append(make([]byte, 32-len(b)), b...) }
	jwks := map[string]any{"keys": []any{
		map[string]any{"kty": "RSA", "kid": "cost-rsa", "alg": "RS256", "use": "sig",
			"n": b64(rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(rsaKey.E)).Bytes())},
		map[string]any{"kty": "EC", "kid": "cost-ec", "crv": "P-256", "x": b64(pad(ecKey.X.Bytes())), "y": b64(pad(ecKey.Y.Bytes()))},
	}}
	return func(d Doc) error {
		for _, w := range d.WasmFilters() {
			if err := EditPluginConfig(w, func(pc map[string]any) {
				auth := pc["auth"].(map[string]any)
				auth["jwks"], auth["hs256_secret"] = jwks, costHS256
			}); err != nil {
				return err
			}
		}
		return nil
	}
}

// withoutFilter drops the Wasm filter from every connection manager: the
// baseline for what the filter costs.
func withoutFilter(d Doc) error {
	for _, hcm := range connectionManagers(d) {
		var keep []any
		for _, f := range list(hcm["http_filters"]) {
			if f.(map[string]any)["name"] != "envoy.filters.http.wasm" {
				keep = append(keep, f)
			}
		}
		hcm["http_filters"] = keep
	}
	return nil
}

// onEveryRoute enables the Wasm filter in http_filters, so every request
// enters the VM, as a WasmPlugin does in Istio (it cannot match paths).
func onEveryRoute(d Doc) error {
	for _, hcm := range connectionManagers(d) {
		for _, f := range list(hcm["http_filters"]) {
			if fm := f.(map[string]any); fm["name"] == "envoy.filters.http.wasm" {
				delete(fm, "disabled")
			}
		}
	}
	return nil
}

func connectionManagers(d Doc) []map[string]any {
	var out []map[string]any
	sr, _ := d["static_resources"].(map[string]any)
	for _, l := range list(sr["listeners"]) {
		for _, fc := range list(l.(map[string]any)["filter_chains"]) {
			for _, f := range list(fc.(map[string]any)["filters"]) {
				if tc, ok := f.(map[string]any)["typed_config"].(map[string]any); ok {
					out = append(out, tc)
				}
			}
		}
	}
	return out
}

// costScenario is one kind of request measured in one Envoy.
type costScenario struct {
	name   string
	envoy  string // which Envoy serves it
	method string
	path   string
	// token mints request i's token ("" for none).
	token func(i int) string
}

// TestRealEnvoyCost measures Envoy's CPU time per request (user + system,
// from /proc/<pid>/stat, all threads) with and without the filter, on
// demand: REALENVOY_COST=<requests per scenario and round> (for example 400).
// Three Envoys of the newest pinned version run side by side: the shipped
// envoy.yaml with inline keys for every token kind (route-scoped), the
// same without the Wasm filter, and the same with the filter on every route
// (a variant for this measurement only). Rounds interleave the scenarios;
// 4 clients with keep-alive send each scenario's requests.
func TestRealEnvoyCost(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("REALENVOY_COST"))
	if n <= 0 {
		t.Skip("on demand: REALENVOY_COST=400 go test ./e2e/realenvoy -run TestRealEnvoyCost -v")
	}
	rounds := 5
	if r, _ := strconv.Atoi(os.Getenv("REALENVOY_COST_ROUNDS")); r > 0 {
		rounds = r
	}
	root, wasm := repoRoot(t), pluginWasm(t)
	version := Versions()[len(Versions())-1]
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := costKeys(rsaKey, ecKey)
	// Started at once, outside subtests, so they live until the test ends.
	envoys := map[string]*Stack{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var startErrs []error
	bin := Require(t, root, version)
	for name, edit := range map[string]func(Doc) error{
		"route-scoped": keys,
		"no filter":    withoutFilter,
		"every route": func(d Doc) error {
			if err := keys(d); err != nil {
				return err
			}
			return onEveryRoute(d)
		},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := Launch(context.Background(), Setup{RepoRoot: root, Version: version, Binary: bin, Wasm: wasm, Edit: edit, ComponentLogLevels: "wasm:info"})
			mu.Lock()
			defer mu.Unlock()
			if st != nil {
				t.Cleanup(st.Close)
			}
			if err != nil {
				startErrs = append(startErrs, fmt.Errorf("%s: %w", name, err))
				return
			}
			envoys[name] = st
		}()
	}
	wg.Wait()
	if len(startErrs) > 0 {
		t.Fatal(startErrs)
	}
	sign := func(alg string, i int) string {
		claims := map[string]any{"device_id": fmt.Sprintf("cost-%s-%d", alg, i), "app_id": "cost", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
		var s jwt.Signer
		var kid string
		switch alg {
		case "RS256":
			s, _ = jwt.NewSignerRS(jwt.RS256, rsaKey)
			kid = "cost-rsa"
		case "ES256":
			s, _ = jwt.NewSignerES(jwt.ES256, ecKey)
			kid = "cost-ec"
		default:
			s, _ = jwt.NewSignerHS(jwt.HS256, []byte(costHS256))
		}
		opts := []jwt.BuilderOption{}
		if kid != "" {
			opts = append(opts, jwt.WithKeyID(kid))
		}
		tok, err := jwt.NewBuilder(s, opts...).Build(claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok.String()
	}
	// Each uncached request carries a token the VM has not seen.
	mint := func(alg string) func(int) string {
		toks := make([]string, n*rounds)
		for i := range toks {
			toks[i] = sign(alg, i)
		}
		return func(i int) string { return toks[i] }
	}
	cached := sign("RS256", -1)
	scenarios := []costScenario{
		{name: "pass-through GET, no filter", envoy: "no filter", method: "GET", path: "/api/v2/carts/active"},
		{name: "pass-through GET, route-scoped filter", envoy: "route-scoped", method: "GET", path: "/api/v2/carts/active"},
		{name: "pass-through GET, filter on every route", envoy: "every route", method: "GET", path: "/api/v2/carts/active"},
		{name: "transfer RS256", envoy: "route-scoped", method: "POST", path: transferPath, token: mint("RS256")},
		{name: "transfer ES256", envoy: "route-scoped", method: "POST", path: transferPath, token: mint("ES256")},
		{name: "transfer HS256", envoy: "route-scoped", method: "POST", path: transferPath, token: mint("HS256")},
		{name: "transfer RS256, cached token", envoy: "route-scoped", method: "POST", path: transferPath, token: func(int) string { return cached }},
	}
	cpu := make([]time.Duration, len(scenarios))
	const clients = 4
	for r := 0; r < rounds; r++ {
		for si, sc := range scenarios {
			st := envoys[sc.envoy]
			url := st.ProxyURL + sc.path
			before, err := st.CPUTime()
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for c := 0; c < clients; c++ {
				wg.Add(1)
				go func(c int) {
					defer wg.Done()
					client := &http.Client{Timeout: 30 * time.Second}
					for i := c; i < n; i += clients {
						var body io.Reader
						req, _ := http.NewRequest(sc.method, url, body)
						if sc.method == "POST" {
							req, _ = http.NewRequest(sc.method, url, strings.NewReader(demoBody))
							req.Header.Set("content-type", "application/json")
							req.Header.Set("x-firmly-authorization", sc.token(r*n+i))
						}
						resp, err := client.Do(req)
						if err != nil {
							errs <- err
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							errs <- fmt.Errorf("%s: %d", sc.name, resp.StatusCode)
							return
						}
					}
				}(c)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			after, _ := st.CPUTime()
			cpu[si] += after - before
		}
	}
	total := time.Duration(n * rounds)
	base := cpu[0] / total
	var b strings.Builder
	fmt.Fprintf(&b, "Envoy %s CPU time per request (user+system, all threads; %d rounds x %d requests, 4 clients):\n", version, rounds, n)
	fmt.Fprintf(&b, "| scenario | Envoy CPU µs/request | vs. pass-through without the filter |\n| --- | ---: | ---: |\n")
	for si, sc := range scenarios {
		per := cpu[si] / total
		fmt.Fprintf(&b, "| %s | %.0f | %.1f× |\n", sc.name, float64(per)/float64(time.Microsecond), float64(per)/float64(base))
	}
	t.Log("\n" + b.String())
}

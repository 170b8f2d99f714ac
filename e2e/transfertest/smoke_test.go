package transfertest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

func TestPluginLoadsWithinEnvoysHostSurface(t *testing.T) {
	for _, v := range []envoyhost.EnvoyVersion{envoyhost.Envoy133, envoyhost.Envoy139} {
		t.Run(v.String(), func(t *testing.T) {
			mod, err := envoyhost.Compile(context.Background(), e2etest.PluginWasm(t), v)
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(context.Background())
			if got := mod.ABIVersion(); got != "proxy_abi_version_0_2_1" {
				t.Errorf("ABI export %q, want proxy_abi_version_0_2_1", got)
			}
			allowed := envoyhost.AllowedImports(v)
			for _, imp := range mod.Imports() {
				if !slices.Contains(allowed, imp) {
					t.Errorf("import %s is outside %s's surface", imp, v)
				}
			}
			for _, want := range envoyhost.SDKHostcalls {
				if !slices.Contains(mod.Imports(), "env."+want) {
					t.Errorf("env.%s is not imported: the bridge lost a host method", want)
				}
			}
		})
	}
}

func TestNonTransferRequestPassesThroughUntouched(t *testing.T) {
	type seen struct {
		method, uri, body string
		header            http.Header
	}
	var mu sync.Mutex
	var got []seen
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.RequestURI(), string(b), r.Header.Clone()})
		mu.Unlock()
		w.Header().Set("x-app", "yes")
		w.Write([]byte("app answer"))
	}))
	defer app.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h, err := envoyhost.Start(ctx, e2etest.PluginWasm(t), envoyhost.Config{
		PluginConfig: []byte(e2etest.PluginConfig(t, e2etest.StackOpts{})),
		Clusters:     map[string]envoyhost.Cluster{"app": {Addr: strings.TrimPrefix(app.URL, "http://")}},
		Routes:       []envoyhost.Route{{Prefix: "/", Cluster: "app"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)

	resp, err := h.Do(ctx, &envoyhost.Request{Method: "POST", Path: "/api/v2/carts/active?x=1",
		Headers: envoyhost.Pairs{{"content-type", "text/plain"}, {"x-custom", "a"}}, Body: []byte("hello"), ChunkSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || string(resp.Body) != "app answer" || resp.Header("x-app") != "yes" || resp.Local {
		t.Errorf("got %d %q local=%v, want the app's answer", resp.Status, resp.Body, resp.Local)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].method != "POST" || got[0].uri != "/api/v2/carts/active?x=1" || got[0].body != "hello" ||
		got[0].header.Get("x-custom") != "a" || got[0].header.Get("content-type") != "text/plain" {
		t.Errorf("upstream saw %+v", got)
	}
	if c := h.Callouts(); len(c) != 0 {
		t.Errorf("filter made callouts for a non-transfer request: %+v", c)
	}
}

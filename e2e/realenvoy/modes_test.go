package realenvoy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/internal/metrics"
)

// headerMode is one combination of the plugin's stream.pause_on_headers and
// Envoy's allow_on_headers_stop_iteration, served on a listener of its own.
type headerMode struct {
	listener string
	pause    bool
	allow    bool
}

// The shipped envoy.yaml's listener (api) has pause_on_headers with
// allow_on_headers_stop_iteration; the variant adds one listener per other
// combination, each a copy of api with only those two settings changed.
var headerModes = []headerMode{
	{"api", true, true},
	{"default_mode", false, false},
	{"default_mode_allow", false, true},
	{"pause_without_allow", true, false},
}

// withHeaderModeListeners is the variant: the shipped configuration plus a
// copy of its first listener per extra header mode. The copies share the
// shipped vm_config, so Envoy compiles the module once.
func withHeaderModeListeners(d Doc) error {
	sr := d["static_resources"].(map[string]any)
	ls := list(sr["listeners"])
	raw, err := json.Marshal(ls[0])
	if err != nil {
		return err
	}
	for _, m := range headerModes[1:] {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var l map[string]any
		if err := dec.Decode(&l); err != nil {
			return err
		}
		l["name"] = m.listener
		for _, w := range (Doc{"static_resources": map[string]any{"listeners": []any{l}}}).WasmFilters() {
			if m.allow {
				w["allow_on_headers_stop_iteration"] = true
			} else {
				delete(w, "allow_on_headers_stop_iteration")
			}
			pause := m.pause
			if err := EditPluginConfig(w, func(pc map[string]any) {
				pc["stream"] = map[string]any{"pause_on_headers": pause}
			}); err != nil {
				return err
			}
		}
		ls = append(ls, l)
	}
	sr["listeners"] = ls
	return nil
}

// TestRealEnvoyHeaderModes answers, per Envoy version, what each header mode
// does in the real proxy: whether the transfer route's upstream (firmly_api)
// is contacted, and whether the transfer is answered at all.
func TestRealEnvoyHeaderModes(t *testing.T) {
	t.Parallel() // each of these tests mostly waits on Envoy; they overlap
	root, wasm := repoRoot(t), pluginWasm(t)
	for _, v := range Versions() {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			st := StartStack(t, Setup{RepoRoot: root, Version: v, Wasm: wasm, Edit: withHeaderModeListeners})
			// Each distinct plugin configuration has a root context of its
			// own in every VM (Envoy shares one between listeners whose
			// plugin configuration is the same), and each fetches the keys.
			st.WaitCounter(t, CustomStat+metrics.JWKSFetchSuccess, uint64(st.Concurrency+1)*uint64(distinctPluginConfigs(t, root)), 60*time.Second)
			tok := devToken(t)
			for _, m := range headerModes {
				t.Run(m.listener, func(t *testing.T) {
					url := st.Listeners[m.listener]
					if url == "" {
						t.Fatalf("no listener %s in %v", m.listener, st.Listeners)
					}
					upstream := st.Counter(t, "cluster.firmly_api.upstream_rq_total")
					exports := st.Counter(t, "cluster.merchant_luma.upstream_rq_total")
					req, _ := http.NewRequest("POST", url+transferPath, strings.NewReader(demoBody))
					req.Header.Set("content-type", "application/json")
					req.Header.Set("x-firmly-authorization", tok)
					// Bounded: without allow_on_headers_stop_iteration the
					// answer never comes (Envoy holds the body from the filter).
					client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
					resp, err := client.Do(req)
					var nerr net.Error
					timedOut := errors.As(err, &nerr) && nerr.Timeout()
					if err != nil && !timedOut {
						t.Fatal(err)
					}
					var body []byte
					if resp != nil {
						body, _ = io.ReadAll(resp.Body)
						resp.Body.Close()
					}
					upstreamDelta := st.Counter(t, "cluster.firmly_api.upstream_rq_total") - upstream
					exportDelta := st.Counter(t, "cluster.merchant_luma.upstream_rq_total") - exports
					switch {
					case m.pause && m.allow:
						if timedOut || resp.StatusCode != 200 || upstreamDelta != 0 {
							t.Errorf("pause_on_headers with allow: answered %v (timed out %v), firmly_api contacted %d times; want 200 and 0", resp != nil && resp.StatusCode == 200, timedOut, upstreamDelta)
						}
					case !m.pause:
						// The router opens the route's upstream with the
						// headers; the filter's answer after the body resets it.
						if timedOut || resp.StatusCode != 200 || upstreamDelta != 1 {
							t.Errorf("default mode (allow %v): answered 200: %v (timed out %v), firmly_api contacted %d times; want 200 and 1", m.allow, resp != nil && resp.StatusCode == 200, timedOut, upstreamDelta)
						}
					default: // pause without allow
						if !timedOut || exportDelta != 0 {
							t.Errorf("pause_on_headers without allow: timed out %v, merchant exports %d; want no answer and no export (Envoy stops all iteration)", timedOut, exportDelta)
						}
					}
					status := 0
					if resp != nil {
						status = resp.StatusCode
					}
					t.Logf("Envoy %s %s: answer %d %.120s (timed out %v), firmly_api requests +%d, merchant exports +%d", v, m.listener, status, body, timedOut, upstreamDelta, exportDelta)
				})
			}
		})
	}
}

// distinctPluginConfigs counts the plugin configurations of the header-mode
// variant that differ as text: Envoy keys a plugin's root context by it.
func distinctPluginConfigs(t *testing.T, root string) int {
	t.Helper()
	seen := map[string]bool{}
	for _, w := range shippedVariant(t, root, withHeaderModeListeners).WasmFilters() {
		c, _ := w["configuration"].(map[string]any)
		v, _ := c["value"].(string)
		seen[v] = true
	}
	return len(seen)
}

// shippedVariant is the shipped envoy.yaml with edit applied.
func shippedVariant(t *testing.T, root string, edit func(Doc) error) Doc {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDoc(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := edit(d); err != nil {
		t.Fatal(err)
	}
	return d
}

package observetest

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/e2e/localstack"
	"github.com/firmly/session-transfer-filter/e2e/refissuer"
	"github.com/firmly/session-transfer-filter/internal/metrics"
)

// SPEC §2.9 against plugin.wasm: every series exists at 0 from the start,
// and an authenticated request leaves the caller in the filter state.

// envoyStatsTags are envoy.yaml's stats_tags.
func envoyStatsTags(c *envoyhost.Config) {
	c.StatsTags = []envoyhost.StatsTag{
		{Name: "merchant", Regex: regexp.MustCompile(`(session_transfer_merchant=\.=(.*?);\.;)`)},
		{Name: "outcome", Regex: regexp.MustCompile(`(session_transfer_outcome=\.=(.*?);\.;)`)},
	}
}

// promSamples reads /stats/prometheus text into series -> value.
func promSamples(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			out[line[:i]] = line[i+1:]
		}
	}
	return out
}

// startSeriesProm is every series the plugin defines at start, as
// /stats/prometheus names them with envoy.yaml's stats_tags (for each
// histogram its _count).
func startSeriesProm(merchants []string) []string {
	var out []string
	for _, m := range merchants {
		for _, o := range metrics.MerchantOutcomes {
			out = append(out, fmt.Sprintf(`session_transfer_requests{merchant=%q,outcome=%q}`, m, o))
		}
		for _, h := range metrics.Histograms {
			out = append(out, fmt.Sprintf(`%s_count{merchant=%q}`, strings.ReplaceAll(h, ".", "_"), m))
		}
	}
	for _, o := range metrics.NoMerchantOutcomes {
		out = append(out, fmt.Sprintf(`session_transfer_requests{merchant="none",outcome=%q}`, o))
	}
	out = append(out, `session_transfer_duration_ms_count{merchant="none"}`)
	for _, c := range append(append([]string(nil), metrics.VMCounters...), metrics.Gauges...) {
		out = append(out, strings.ReplaceAll(c, ".", "_")+"{}") // Envoy writes an untagged series with {}
	}
	return out
}

func TestEverySeriesExistsAtZeroFromTheStart(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{HostConfig: func(c *envoyhost.Config) { envoyStatsTags(c); c.Workers = 2 }})
	got := promSamples(st.Host.StatsPrometheus())
	want := startSeriesProm([]string{e2etest.TestDomain})
	for _, s := range want {
		if v, ok := got[s]; !ok || v != "0" {
			t.Errorf("%s: got %q (listed %v), want 0 right after start", s, v, ok)
		}
	}
	if len(got) < len(want) {
		t.Errorf("/stats/prometheus lists %d series, want at least %d", len(got), len(want))
	}
	// Defined once per VM: two workers and the canary define each name,
	// and a request then defines nothing more.
	before := st.Host.DefineMetricCalls()
	e2etest.CartOf(t, st.Do(t, st.Req(t, e2etest.ObjectBody)))
	if n := st.Host.DefineMetricCalls(); n != before {
		t.Errorf("%d define calls by a transfer after start, want 0", n-before)
	}
	got = promSamples(st.Host.StatsPrometheus())
	if v := got[`session_transfer_requests{merchant="staging.luma.gift",outcome="transferred"}`]; v != "1" {
		t.Errorf("transferred after one transfer: %q, want 1", v)
	}
}

func TestFilterStateNamesTheAuthenticatedCaller(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	for _, c := range []struct {
		name   string
		token  string
		path   string
		status int
		want   map[string]string // "" means absent
	}{
		{"a transfer", e2etest.Token(t, "RS256", "rsa-1", e2etest.DeviceClaims()), e2etest.TransferPath, 200,
			map[string]string{"device_id": "dev-123", "app_id": "app-1", "kid": "rsa-1"}},
		{"a token without kid", e2etest.Token(t, "ES256", "", map[string]any{"device_id": "dev-9", "app_id": "app-2", "exp": time.Now().Add(time.Hour).Unix()}), e2etest.TransferPath, 200,
			map[string]string{"device_id": "dev-9", "app_id": "app-2", "kid": ""}},
		{"refused after authentication", e2etest.Token(t, "RS256", "rsa-1", e2etest.DeviceClaims()), "/api/v2/domains/unknown.example/session/transfer", 422,
			map[string]string{"device_id": "dev-123", "app_id": "app-1", "kid": "rsa-1"}},
		{"not authenticated", e2etest.Token(t, "RS256", "rsa-1", map[string]any{"device_id": "dev-1", "app_id": "app-1", "exp": time.Now().Add(-time.Hour).Unix()}), e2etest.TransferPath, 401,
			map[string]string{"device_id": "", "app_id": "", "kid": ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := st.Req(t, e2etest.ObjectBody)
			r.Headers[1] = [2]string{"x-firmly-authorization", c.token}
			r.Path = c.path
			resp := st.Do(t, r)
			if resp.Status != c.status {
				t.Fatalf("status %d %s, want %d", resp.Status, resp.Body, c.status)
			}
			for k, want := range c.want {
				got, ok := resp.FilterState["wasm.session_transfer."+k]
				if want == "" && ok || want != "" && got != want {
					t.Errorf("filter state %s = %q (set %v), want %q", k, got, ok, want)
				}
			}
		})
	}
}

// On the local stack, envoy.yaml as shipped: a rotation followed at once by
// a token of the new key is answered 200 without waiting for the refresh,
// after one refetch; the access log names the caller; /stats/prometheus
// listed every series from the start.
func TestLocalStackFirstTokenOfANewKey(t *testing.T) {
	root, err := localstack.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	clock := envoyhost.NewTestClock(time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := localstack.Start(ctx, localstack.Options{RepoRoot: root, Wasm: e2etest.PluginWasm(t), Ephemeral: true, DataDir: t.TempDir(), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := promSamples(st.Host.StatsPrometheus())
	for _, s := range startSeriesProm([]string{"staging.luma.gift"}) {
		if _, ok := got[s]; !ok {
			t.Errorf("/stats/prometheus right after start does not list %s", s)
		}
	}
	window := st.Plugin.Auth.RemoteJWKS.MinRefetchSeconds
	if window == 0 || window >= st.Plugin.Auth.RemoteJWKS.RefreshSeconds {
		t.Fatalf("envoy.yaml: min_refetch_seconds %d, want it on and shorter than refresh_seconds", window)
	}
	clock.Advance(time.Duration(window) * time.Second) // the window since the first fetch
	st.Host.WaitCallouts(ctx)

	e2etest.Admin(t, st, "POST", st.IssuerURL+"/_admin/rotate", nil)
	minted, err := refissuer.MintFrom(st.Client, st.IssuerURL, refissuer.TokenRequest{DeviceID: "dev-device-2", AppID: "local-dev", TTLSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	// The request waits for the refetch, which the 1 ms tick carries out:
	// advance the clock until it is answered.
	done := make(chan e2etest.LocalResult, 1)
	go func() { done <- e2etest.LocalTransferWith(t, st, minted.Token, `{"handle":"`+e2etest.DemoHandle+`"}`) }()
	var r e2etest.LocalResult
wait:
	for {
		select {
		case r = <-done:
			break wait
		case <-ctx.Done():
			t.Fatal("no answer")
		default:
			clock.Advance(time.Millisecond)
			st.Host.WaitCallouts(ctx)
			time.Sleep(2 * time.Millisecond) // let the request reach the host
		}
	}
	if r.Status != 200 {
		t.Fatalf("the first token of the new key: got %d %+v, want 200 without waiting for the refresh", r.Status, r.Err)
	}
	if n, _ := st.Host.Metric(metrics.JWKSRefetchOnUnknownKid); n != 1 {
		t.Errorf("jwks_refetch_on_unknown_kid %d, want 1", n)
	}
	if n := strings.Count(st.Host.LogText(), "fetching the remote JWKS"); n != 1 {
		t.Errorf("%d refetch log lines, want 1", n)
	}
	var line map[string]any
	logs := st.Host.AccessLogs()
	if len(logs) == 0 || json.Unmarshal([]byte(logs[len(logs)-1]), &line) != nil {
		t.Fatalf("access log %q", logs)
	}
	if line["device_id"] != "dev-device-2" || line["app_id"] != "local-dev" || line["kid"] != minted.Kid || line["outcome"] != "transferred" {
		t.Errorf("access log line %v, want device_id dev-device-2, app_id local-dev, kid %s", line, minted.Kid)
	}
}

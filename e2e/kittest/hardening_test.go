package kittest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/e2e/localstack"
)

// The hardened envoy.yaml against plugin.wasm: the local stack runs the
// connection manager's settings from envoy.yaml (path normalisation,
// underscore policy, circuit breakers), so these tests prove the shipped
// configuration, not only the filter. docs/security.md explains each.

// accessLogLines collects the stack's access log, one JSON object a line.
type accessLogLines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (a *accessLogLines) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.Write(p)
}

// entries are the lines so far, each value as text ("-" for a missing one).
func (a *accessLogLines) entries(t *testing.T) []map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []map[string]string
	for _, l := range strings.Split(strings.TrimSpace(a.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(l), &raw); err != nil {
			t.Fatalf("access log line %q: %v", l, err)
		}
		e := map[string]string{}
		for k, v := range raw {
			e[k] = "-"
			if v != nil {
				e[k] = fmt.Sprint(v)
			}
		}
		out = append(out, e)
	}
	return out
}

func startHardenedLocal(t *testing.T) (*localstack.Stack, *accessLogLines, string) {
	t.Helper()
	root, err := localstack.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	log := &accessLogLines{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := localstack.Start(ctx, localstack.Options{RepoRoot: root, Wasm: e2etest.PluginWasm(t), Ephemeral: true, DataDir: t.TempDir(), AccessLog: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	tok, err := localstack.DevToken(root, "dev-device-1", 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return st, log, tok
}

type rawResponse struct {
	status int
	header http.Header
	body   string
}

// rawHTTP sends one request with its request-target and header names
// exactly as given (Go's client would re-escape the one and canonicalise
// the other).
func rawHTTP(t *testing.T, proxyURL, method, target string, headers [][2]string, body string) rawResponse {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(proxyURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nhost: api.firmly.test\r\nconnection: close\r\ncontent-length: %d\r\n", method, target, len(body))
	for _, h := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, resp.Header, string(rb)}
}

func transferHeaders(tok string, extra ...[2]string) [][2]string {
	return append([][2]string{{"content-type", "application/json"}, {"x-firmly-authorization", "Bearer " + tok}}, extra...)
}

// Every spelling of the transfer path reaches the filter through the
// hardened envoy.yaml, and the filter sees the canonical :path; a spelling
// with an escaped slash is redirected to it first, and a refused one never
// reaches the filter or the upstream.
func TestHardenedSpellingsReachTheFilter(t *testing.T) {
	st, log, tok := startHardenedLocal(t)
	body := `{"handle":"` + e2etest.DemoHandle + `"}`
	for _, c := range envoyhost.TransferPathSpellings {
		if c.RawOnly {
			continue // the host's net/http front end refuses it (see the table)
		}
		t.Run(c.Name, func(t *testing.T) {
			exportsBefore := st.Merchant.Exports()
			n := len(log.entries(t))
			resp := rawHTTP(t, st.ProxyURL, "POST", c.Path, transferHeaders(tok), body)
			entries := log.entries(t)
			if len(entries) != n+1 {
				t.Fatalf("%d access log lines for one request", len(entries)-n)
			}
			e := entries[n]
			exports := st.Merchant.Exports() - exportsBefore
			switch {
			case c.Action == envoyhost.PathReject:
				if resp.status != 400 || e["response_code_details"] != "path_normalization_failed" || e["path"] != c.Want || e["outcome"] != "-" || exports != 0 {
					t.Errorf("got %d %q, log %v, %d exports; want Envoy's 400 before the filter", resp.status, resp.body, e, exports)
				}
			case c.Action == envoyhost.PathRedirect:
				if resp.status != 307 || resp.header.Get("location") != c.Want || e["path"] != c.Want || e["outcome"] != "-" || exports != 0 {
					t.Errorf("got %d location %q, log %v; want 307 to %q before the filter", resp.status, resp.header.Get("location"), e, c.Want)
				}
				// A client that follows the redirect transfers.
				if again := rawHTTP(t, st.ProxyURL, "POST", resp.header.Get("location"), transferHeaders(tok), body); again.status != 200 {
					t.Errorf("after the redirect: %d %s", again.status, again.body)
				}
			case c.Transfer:
				if resp.status != 200 || e["path"] != c.Want || e["outcome"] == "-" || exports != 1 {
					t.Errorf("got %d %s, log %v, %d exports; want the transfer answered with :path %q", resp.status, resp.body, e, exports, c.Want)
				}
			default:
				// The catch-all route: the API stand-in, no filter, no callout.
				if e["path"] != c.Want || e["outcome"] != "-" || e["response_code_details"] != "via_upstream" || exports != 0 {
					t.Errorf("got %d, log %v, %d exports; want the catch-all route with :path %q", resp.status, e, exports, c.Want)
				}
			}
		})
	}
}

// A header name with an underscore is refused by the codec before the
// filter: no callout, no filter outcome, Envoy's own details.
func TestHardenedUnderscoreHeaderRefusedBeforeTheFilter(t *testing.T) {
	st, log, tok := startHardenedLocal(t)
	exportsBefore := st.Merchant.Exports()
	resp := rawHTTP(t, st.ProxyURL, "POST", envoyhost.TransferPath, transferHeaders(tok, [2]string{"x_firmly_authorization", "Bearer forged"}), `{"handle":"`+e2etest.DemoHandle+`"}`)
	entries := log.entries(t)
	if len(entries) != 1 {
		t.Fatalf("access log %v", entries)
	}
	e := entries[0]
	// The codec refused it mid-parse: Envoy's access log has no request
	// headers for it.
	if resp.status != 400 || resp.body != "Bad Request" || e["response_code_details"] != "http1.unexpected_underscore" || e["outcome"] != "-" || e["path"] != "-" {
		t.Errorf("got %d %q, log %v; want Envoy's 400 http1.unexpected_underscore", resp.status, resp.body, e)
	}
	if n := st.Merchant.Exports() - exportsBefore; n != 0 {
		t.Errorf("%d merchant exports", n)
	}
	// The same request without it transfers.
	if resp := rawHTTP(t, st.ProxyURL, "POST", envoyhost.TransferPath, transferHeaders(tok), `{"handle":"`+e2etest.DemoHandle+`"}`); resp.status != 200 {
		t.Errorf("without the underscore header: %d %s", resp.status, resp.body)
	}
}

// A full circuit breaker on the merchant cluster: with one export in
// flight and one pending (max_connections 1, max_pending_requests 1), the
// next callout is refused inside proxy_http_call, so the filter answers
// 503 ErrorStoreUnavailable at once, while the other two still wait; they
// transfer once the merchant answers.
func TestHardenedMerchantCircuitBreakerFull(t *testing.T) {
	arrived, release := make(chan struct{}, 4), make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	// A merchant timeout far beyond the test, so the held exports end only
	// when released.
	st := e2etest.NewStack(t, e2etest.StackOpts{MerchantTimeoutMs: 60000, HostConfig: func(c *envoyhost.Config) {
		m := c.Clusters["merchant_luma"]
		m.CircuitBreaker = &envoyhost.CircuitBreaker{MaxConnections: 1, MaxPendingRequests: 1, MaxRequests: 1}
		c.Clusters["merchant_luma"] = m
	}})
	t.Cleanup(open)
	st.Merchant.Set(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.Write([]byte(e2etest.LumaCart))
	})
	held := st.Host.NewStream()
	held.Send(st.Req(t, e2etest.ObjectBody))
	<-arrived
	pending := st.Host.NewStream()
	pending.Send(st.Req(t, e2etest.ObjectBody))
	if a, p := st.Host.ClusterLoad("merchant_luma"); a != 1 || p != 1 {
		t.Fatalf("merchant cluster: %d active, %d pending", a, p)
	}

	// Not st.do: it waits for every callout, the held ones included.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := st.Host.Do(ctx, st.Req(t, e2etest.ObjectBody))
	if err != nil {
		t.Fatal(err)
	}
	e := e2etest.DecodeError(t, resp)
	if resp.Status != 503 || e.Error != "ErrorStoreUnavailable" {
		t.Errorf("got %d %s %q, want 503 ErrorStoreUnavailable", resp.Status, e.Error, e.Description)
	}
	if _, ok := resp.FilterState["wasm.session_transfer.merchant_status"]; ok {
		t.Errorf("merchant_status %q set for a callout that never left", resp.FilterState["wasm.session_transfer.merchant_status"])
	}
	if got := st.Host.CalloutOverflows(); len(got) != 1 || got[0] != "merchant_luma" {
		t.Errorf("overflows %v", got)
	}
	if n := len(st.Merchant.Received()); n != 1 {
		t.Errorf("the merchant got %d calls, want only the held one", n)
	}

	open()
	for _, s := range []*envoyhost.Stream{held, pending} {
		if r, err := s.Wait(ctx); err != nil || r.Status != 200 {
			t.Errorf("a waiting transfer: %v %+v", err, r)
		}
	}
	st.Host.WaitCallouts(ctx)
	if resp := st.Do(t, st.Req(t, e2etest.ObjectBody)); resp.Status != 200 {
		t.Errorf("once the slots are free: %d %s", resp.Status, resp.Body)
	}
}

// The compose stack never publishes Envoy's admin interface beyond the
// host's loopback.
func TestComposeAdminOnLoopbackOnly(t *testing.T) {
	raw, err := os.ReadFile("docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatal(err)
	}
	for _, p := range cf.Services["envoy"].Ports {
		if strings.HasSuffix(p, ":9901") && !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("admin published as %q: want 127.0.0.1:9901:9901", p)
		}
	}
}

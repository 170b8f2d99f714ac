package realenvoy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

// The edge hardening of the shipped envoy.yaml (issue 17) through each
// target: every spelling of envoyhost.TransferPathSpellings and the
// underscore-header refusal. They run inside TestRealEnvoy, on its Envoys.

// rawDo sends one request with its request-target and header names exactly
// as given (Go's client would re-escape the one and canonicalise the other)
// and waits (bounded) for the first new access-log line that match accepts.
func (tg *target) rawDo(t *testing.T, method, reqTarget string, headers [][2]string, body string, match func(map[string]any) bool) exchange {
	t.Helper()
	before := len(tg.accessLog())
	conn, err := net.Dial("tcp", strings.TrimPrefix(tg.proxyURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nhost: api.firmly.test\r\nconnection: close\r\ncontent-length: %d\r\n", method, reqTarget, len(body))
	for _, h := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n" + body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", tg.name, method, reqTarget, err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	x := exchange{status: resp.StatusCode, header: resp.Header, body: rb}
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines := tg.accessLog()
		for _, l := range lines[min(before, len(lines)):] {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && match(m) {
				x.log = m
				return x
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no access-log line for %s %s (%d)", tg.name, method, reqTarget, x.status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func rawTransferHeaders(token string, extra ...[2]string) [][2]string {
	return append([][2]string{{"content-type", "application/json"}, {"x-firmly-authorization", token}}, extra...)
}

// edgeScenarios run before the JWKS rotation (they use the development token).
var edgeScenarios = []scenario{
	// What a spelling becomes: the answer, the redirect's location, the
	// :path the route and the filter saw (the access log's path), whether
	// the filter ran (outcome) and whether the merchant was called.
	{"edge: transfer path spellings", func(t *testing.T, tg *target) string {
		tok := devToken(t)
		var out []string
		for _, c := range envoyhost.TransferPathSpellings {
			// Go's server (the host's front end) refuses a malformed escape
			// before the host sees it; only the real Envoy is asked.
			if c.RawOnly && !tg.real {
				continue
			}
			contexts := tg.streamContexts(t)
			x := tg.rawDo(t, "POST", c.Path, rawTransferHeaders(tok), demoBody, func(m map[string]any) bool {
				return m["method"] == "POST" && m["path"] == c.Want
			})
			// A stream context is the filter running (the route matched);
			// merchant_status says the export was answered (the merchant's
			// own counter would also count a late answer to an earlier
			// scenario's timed-out export).
			created := tg.streamContexts(t) - contexts
			obs := fmt.Sprintf("%s: %d location=%q path=%s details=%s outcome=%s merchant_status=%s contexts+%d", c.Name, x.status,
				x.header.Get("location"), x.logField("path"), x.logField("response_code_details"), x.logField("outcome"), x.logField("merchant_status"), created)
			switch {
			case c.Action == envoyhost.PathReject:
				if x.status != 400 || x.logField("response_code_details") != "path_normalization_failed" || x.logField("outcome") != "null" || created != 0 {
					t.Errorf("%s: want Envoy's 400 before the filter; got %s", tg.name, obs)
				}
			case c.Action == envoyhost.PathRedirect:
				if x.status != 307 || x.header.Get("location") != c.Want || x.logField("outcome") != "null" || created != 0 {
					t.Errorf("%s: want a 307 to %s before the filter; got %s", tg.name, c.Want, obs)
				}
			case c.Transfer && created != 1:
				t.Errorf("%s: want the transfer route and the filter with :path %s; got %s", tg.name, c.Want, obs)
			case c.Transfer && strings.HasPrefix(c.Want, transferPath):
				if x.status != 200 || x.logField("outcome") != "transferred" || x.logField("merchant_status") != "200" {
					t.Errorf("%s: want the transfer with :path %s; got %s", tg.name, c.Want, obs)
				}
			case !c.Transfer:
				if x.logField("outcome") != "null" || x.logField("response_code_details") != "via_upstream" || created != 0 {
					t.Errorf("%s: want the catch-all route with :path %s; got %s", tg.name, c.Want, obs)
				}
			}
			if !c.RawOnly {
				out = append(out, obs)
			}
		}
		return strings.Join(out, " | ")
	}},
	// headers_with_underscores_action REJECT_REQUEST: the codec refuses the
	// request before any filter; the access log has no request headers.
	{"edge: underscore header refused", func(t *testing.T, tg *target) string {
		tok := devToken(t)
		contexts := tg.streamContexts(t)
		x := tg.rawDo(t, "POST", transferPath, rawTransferHeaders(tok, [2]string{"x_firmly_authorization", "forged"}), demoBody,
			func(m map[string]any) bool { return m["response_code_details"] == "http1.unexpected_underscore" })
		created := tg.streamContexts(t) - contexts
		obs := fmt.Sprintf("%d body=%q path=%s method=%s details=%s outcome=%s contexts+%d", x.status, x.body,
			x.logField("path"), x.logField("method"), x.logField("response_code_details"), x.logField("outcome"), created)
		if x.status != 400 || x.logField("outcome") != "null" || created != 0 {
			t.Errorf("%s: want Envoy's 400 before the filter; got %s", tg.name, obs)
		}
		return obs
	}},
}

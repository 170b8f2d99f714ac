package authtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

// Issue 17, the filter side, against plugin.wasm: every spelling of the
// transfer path reaches the filter, every 401 carries its challenge, a
// client's x-request-id is forwarded and logged only when well formed,
// every log line is printable ASCII, and control characters are refused
// in every cluster, authority and path of the configuration.

// The transfer path spelled as a lenient upstream would still read it
// (SPEC §2.1). Before the fix each of these reached the route's upstream
// without a token check.
var transferSpellings = []string{
	"/api/v2/domains/staging.luma.gift/session/%74ransfer",
	"/api/v2/domains/staging.luma.gift/session/./transfer",
	"/api/v2/domains/staging.luma.gift/session/%2e/transfer",
	"//api/v2/domains/staging.luma.gift/session/transfer",
	"//api//v2/domains/staging.luma.gift//session/transfer",
	"/API/V2/domains/staging.luma.gift/Session/Transfer",
	"/api/v2/domains/staging.luma.gift/session%2Ftransfer",
	"/api/v2/domains/staging.luma.gift/session%5ctransfer",
	"/api/v2/x/../domains/staging.luma.gift/session/transfer",
	"/api/v2/domains/staging.luma.gift/session/transfer/x/..",
	"/api/v1/domains/staging.luma.gift/session/transfer//",
	"/api/v1/domains/STAGING.luma.gift/session/transfer?x=%ZZ",
	`/api\v2\domains\staging.luma.gift\session\transfer`,
}

func TestEverySpellingOfTheTransferPathIsATransfer(t *testing.T) {
	for _, mode := range headerModes {
		t.Run(mode.name, func(t *testing.T) {
			st := e2etest.NewStack(t, mode.opts)
			// Unauthenticated first: none of them may reach the upstream.
			for _, p := range transferSpellings {
				r := st.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`)
				r.Path = p
				r.Headers = removeHeader(r.Headers, "x-firmly-authorization")
				resp := st.Do(t, r)
				if e := e2etest.DecodeError(t, resp); resp.Status != 401 || e.Error != "MissingAuthHeader" {
					t.Errorf("%s without a token: got %d %s, want 401 MissingAuthHeader", p, resp.Status, resp.Body)
				}
			}
			if got := len(st.App.Received()); got != 0 {
				t.Errorf("the route's upstream got %d requests without a token check", got)
			}
			if len(st.Host.Callouts()) != 0 {
				t.Error("callouts without a token")
			}
			printableLogs(t, st.Host)
			for _, p := range transferSpellings {
				calls := len(st.Host.Callouts())
				r := st.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`)
				r.Path = p
				resp := st.Do(t, r)
				if resp.Status != 200 || e2etest.CartOf(t, resp)["shop_id"] != e2etest.TestDomain {
					t.Errorf("%s with a token: got %d %s, want the cart", p, resp.Status, resp.Body)
				}
				if got := len(st.Host.Callouts()) - calls; got != 2 {
					t.Errorf("%s: got %d callouts, want the export and the write", p, got)
				}
			}
		})
	}
}

// A would-be transfer path that cannot be read is 400, before the method
// and the token are looked at; no callout, no upstream contact.
func TestMalformedTransferPathIs400(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	for _, p := range []string{
		"/api/v2/domains/staging.luma.gift/session/%ZZtransfer",
		"/api/v2/domains/staging.luma.gift/session/transfer%",
		"/api/v2/domains/staging.luma.gift/session/trans%00fer",
		"/api/v2/domains/staging.luma.gift%00/session/transfer",
		"/api/v2/domains/staging.luma.gift/session/%G4ransfer",
		"/api%2/v2/domains/staging.luma.gift/session/transfer",
	} {
		t.Run(p, func(t *testing.T) {
			upstream, calls := len(st.App.Received()), len(st.Host.Callouts())
			r := st.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`)
			r.Path = p
			r.Method = "GET" // the path is judged first
			r.Headers = removeHeader(r.Headers, "x-firmly-authorization")
			resp := st.Do(t, r)
			e := e2etest.DecodeError(t, resp)
			if resp.Status != 400 || e.Error != "ErrorInvalidInputBody" || !strings.HasPrefix(e.Description, "path") {
				t.Errorf("got %d %s %q, want 400 ErrorInvalidInputBody starting with path", resp.Status, e.Error, e.Description)
			}
			if len(st.App.Received()) != upstream || len(st.Host.Callouts()) != calls {
				t.Error("the upstream or a callout was contacted")
			}
			printableLogs(t, st.Host)
		})
	}
	// Elsewhere a malformed escape is not the filter's business (the
	// test upstream, Go's server, answers it 400 itself).
	r := st.Req(t, "")
	r.Method, r.Path = "GET", "/api/v2/carts/%ZZ"
	if resp := st.Do(t, r); strings.Contains(string(resp.Body), "ErrorInvalidInputBody") {
		t.Errorf("got %d %s from the filter, want the upstream's answer", resp.Status, resp.Body)
	}
}

// Every 401 carries RFC 6750's challenge, the plain one when no token was
// sent (SPEC §2.2); no other answer carries one.
func TestEvery401CarriesWWWAuthenticate(t *testing.T) {
	const plain = `Bearer realm="session-transfer"`
	const invalid = `Bearer realm="session-transfer", error="invalid_token"`
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	expired := e2etest.DeviceClaims()
	expired["exp"] = 1
	for _, c := range []struct {
		name, want string
		headers    envoyhost.Pairs
	}{
		{"no header", plain, nil},
		{"empty header", plain, envoyhost.Pairs{{"x-firmly-authorization", ""}}},
		{"spaces only", plain, envoyhost.Pairs{{"x-firmly-authorization", " \t "}}},
		{"a bare Bearer", plain, envoyhost.Pairs{{"x-firmly-authorization", "Bearer"}}},
		{"Bearer and spaces", plain, envoyhost.Pairs{{"x-firmly-authorization", "bearer  \t"}}},
		{"repeated header", invalid, envoyhost.Pairs{{"x-firmly-authorization", e2etest.ValidToken(t)}, {"x-firmly-authorization", e2etest.ValidToken(t)}}},
		{"malformed token", invalid, envoyhost.Pairs{{"x-firmly-authorization", "Bearer abc"}}},
		{"expired token", invalid, envoyhost.Pairs{{"x-firmly-authorization", e2etest.Token(t, "RS256", "rsa-1", expired)}}},
		{"unknown kid", invalid, envoyhost.Pairs{{"x-firmly-authorization", e2etest.Token(t, "RS256", "nope", e2etest.DeviceClaims())}}},
		{"token in a variant spelling of the path", invalid, envoyhost.Pairs{{"x-firmly-authorization", "x.y.z"}, {":path", "//api/v2/domains/staging.luma.gift/session/transfer"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := st.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`)
			r.Headers = envoyhost.Pairs{{"content-type", "application/json"}}
			for _, kv := range c.headers {
				if kv[0] == ":path" {
					r.Path = kv[1]
					continue
				}
				r.Headers = append(r.Headers, kv)
			}
			resp := st.Do(t, r)
			if resp.Status != 401 {
				t.Fatalf("got %d %s, want 401", resp.Status, resp.Body)
			}
			if got := resp.Header("www-authenticate"); got != c.want {
				t.Errorf("www-authenticate %q, want %q", got, c.want)
			}
			printableLogs(t, st.Host)
		})
	}
	for _, r := range []*envoyhost.Request{
		st.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`),
		st.Req(t, `{"handle":1}`),
	} {
		if resp := st.Do(t, r); resp.Header("www-authenticate") != "" {
			t.Errorf("a %d answer has www-authenticate %q", resp.Status, resp.Header("www-authenticate"))
		}
	}
}

// x-request-id reaches the merchant and the backend, and the log, only
// when it is 1 to 128 bytes of printable ASCII without spaces (SPEC §2.5);
// otherwise neither callout carries it and the log line shows "-".
func TestRequestIDIsForwardedOnlyWhenWellFormed(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	for _, c := range []struct {
		name, id string
		ok       bool
	}{
		{"plain", "req-42", true},
		{"128 bytes", strings.Repeat("r", 128), true},
		{"every visible character", "!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~", true},
		{"129 bytes", strings.Repeat("r", 129), false},
		{"10,000 bytes", strings.Repeat("r", 10000), false},
		{"a space", "req 42", false},
		{"ESC", "req\x1b[2J", false},
		{"CR LF", "req\r\nx-evil: 1", false},
		{"C1 control U+0085", "req\u0085x", false},
		{"U+2028", "req\u2028x", false},
		{"U+202E", "req\u202ex", false},
		{"invalid UTF-8", "req\xffx", false},
		{"DEL", "req\x7f", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, b := len(st.Merchant.Received()), len(st.Backend.Received())
			r := st.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`)
			r.Headers = removeHeader(r.Headers, "x-request-id")
			r.Headers = append(r.Headers, [2]string{"x-request-id", c.id})
			before := len(st.Host.Logs())
			if resp := st.Do(t, r); resp.Status != 200 {
				t.Fatalf("got %d %s", resp.Status, resp.Body)
			}
			want, logged := "", "request_id=-"
			if c.ok {
				want, logged = c.id, "request_id="+c.id+" "
			}
			for name, got := range map[string][]e2etest.Recorded{"merchant": st.Merchant.Received()[m:], "backend": st.Backend.Received()[b:]} {
				if len(got) != 1 {
					t.Fatalf("%s got %d calls", name, len(got))
				}
				if v, present := got[0].Header["X-Request-Id"]; c.ok && (len(v) != 1 || v[0] != want) || !c.ok && present {
					t.Errorf("%s got x-request-id %q, want %q", name, v, want)
				}
			}
			found := false
			for _, e := range st.Host.Logs()[before:] {
				found = found || strings.Contains(e.Message, logged)
			}
			if !found {
				t.Errorf("no log line holds %q:\n%s", logged, st.Host.LogText())
			}
			printableLogs(t, st.Host)
		})
	}
}

// printableLogs fails on any log line that is not one line of printable
// ASCII of at most 2048 bytes (SPEC §2.8).
func printableLogs(t *testing.T, h *envoyhost.Host) {
	t.Helper()
	for _, e := range h.Logs() {
		if len(e.Message) > 2048 {
			t.Errorf("a log line of %d bytes", len(e.Message))
		}
		for i := 0; i < len(e.Message); i++ {
			if c := e.Message[i]; c < 0x20 || c > 0x7e {
				t.Errorf("log line with byte %#x: %q", c, e.Message)
				break
			}
		}
	}
}

// Text a merchant sends (SKUs in a not-enough-stock answer) reaches the
// log only as printable ASCII, every other byte as \xHH.
func TestMerchantTextIsEscapedInLogLines(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	sku := `A\u0085B\u009bC\u2028D\u2029E\u202eF\u001b[2JG\u007fH`
	st.Merchant.Answer(200, `{"cart":{"platform_id":"magento","currency":"USD","line_items":[`+
		`{"platform_line_item_id":"0","sku":"`+sku+`","description":"d","quantity":5,"unit_price":1,"available_quantity":1}]}}`)
	resp := st.Do(t, st.Req(t, `{"handle":"`+e2etest.StringHandle+`"}`))
	if e := e2etest.DecodeError(t, resp); resp.Status != 422 || e.Error != "ErrorNotEnoughStock" {
		t.Fatalf("got %d %s", resp.Status, resp.Body)
	}
	printableLogs(t, st.Host)
	want := `A\xc2\x85B\xc2\x9bC\xe2\x80\xa8D\xe2\x80\xa9E\xe2\x80\xaeF\x1b[2JG\x7fH`
	if !strings.Contains(st.Host.LogText(), want) {
		t.Errorf("no log line holds %s:\n%s", want, st.Host.LogText())
	}
}

// Every cluster, authority, path and path prefix of the configuration is
// 1 to 256 bytes of visible ASCII (SPEC §3): the plugin refuses to start,
// naming the key.
func TestConfigRefusesControlsInClustersAuthoritiesAndPaths(t *testing.T) {
	for _, c := range []struct {
		key, from, to string
	}{
		{"merchants.staging.luma.gift.authority", `"cluster": "merchant_luma"`, `"cluster": "merchant_luma", "authority": "evil\r\nx-injected: 1"`},
		{"merchants.staging.luma.gift.authority", `"cluster": "merchant_luma"`, `"cluster": "merchant_luma", "authority": "a b"`},
		{"merchants.staging.luma.gift.authority", `"cluster": "merchant_luma"`, `"cluster": "merchant_luma", "authority": ""`},
		{"merchants.staging.luma.gift.cluster", `"cluster": "merchant_luma"`, `"cluster": "merchant\nluma"`},
		{"merchants.staging.luma.gift.cluster", `"cluster": "merchant_luma"`, `"cluster": "` + strings.Repeat("c", 257) + `"`},
		{"merchants.staging.luma.gift.export_path", `"cluster": "merchant_luma"`, `"cluster": "merchant_luma", "export_path": "/export\u0000"`},
		{"merchants.staging.luma.gift.export_path", `"cluster": "merchant_luma"`, `"cluster": "merchant_luma", "export_path": "/export\u2028"`},
		{"backend.authority", `"authority": "sessions.internal"`, `"authority": "sessions.internal\r\n"`},
		{"backend.authority", `"authority": "sessions.internal"`, `"authority": "\u0085"`},
		{"backend.cluster", `"cluster": "session_backend"`, `"cluster": "session backend"`},
		{"backend.cluster", `"cluster": "session_backend"`, `"cluster": "session_backend\t"`},
		{"backend.path_prefix", `"cluster": "session_backend"`, `"cluster": "session_backend", "path_prefix": "/v1/\u007f/"`},
		{"auth.remote_jwks.authority", `"allowed_app_ids"`, `"remote_jwks": {"cluster": "jwks", "authority": "issuer\r\nx: 1", "path": "/jwks.json"}, "allowed_app_ids"`},
		{"auth.remote_jwks.cluster", `"allowed_app_ids"`, `"remote_jwks": {"cluster": "jw\nks", "path": "/jwks.json"}, "allowed_app_ids"`},
		{"auth.remote_jwks.path", `"allowed_app_ids"`, `"remote_jwks": {"cluster": "jwks", "path": "/jwks.json\u000b"}, "allowed_app_ids"`},
		{"auth.remote_jwks.authority", `"allowed_app_ids"`, `"remote_jwks": {"cluster": "jwks", "authority": "", "path": "/jwks.json"}, "allowed_app_ids"`},
	} {
		t.Run(c.key+" "+fmt.Sprintf("%q", c.to), func(t *testing.T) {
			cfg := e2etest.PluginConfig(t, e2etest.StackOpts{})
			if !strings.Contains(cfg, c.from) {
				t.Fatalf("the configuration has no %s", c.from)
			}
			cfg = strings.Replace(cfg, c.from, c.to, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			h, err := envoyhost.Start(ctx, e2etest.PluginWasm(t), envoyhost.Config{PluginConfig: []byte(cfg)})
			if err == nil {
				h.Close(ctx)
				t.Fatal("the plugin started")
			}
			if !strings.Contains(err.Error(), `"`+c.key+`"`) {
				t.Errorf("got %v, want the critical line naming %s", err, c.key)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				line = strings.TrimLeft(line, "\t") // the host's own indentation
				for i := 0; i < len(line); i++ {
					if line[i] < 0x20 || line[i] > 0x7e {
						t.Errorf("unescaped byte %#x in %q", line[i], line)
						break
					}
				}
			}
		})
	}
}

// Bodies nested deeper than 32 arrays/objects are 400 (SPEC §2.3), inside
// merchantData too, with no callout; 32 levels are a transfer.
func TestBodyNestingIsBoundedAt32(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"32 levels", `{"handle":"` + e2etest.StringHandle + `","x":` + nest(31) + `}`, 200},
		{"33 levels", `{"handle":"` + e2etest.StringHandle + `","x":` + nest(32) + `}`, 400},
		{"32 levels inside merchantData", `{"handle":{"handle":"` + e2etest.StringHandle + `","merchantData":{"x":` + nest(29) + `}}}`, 200},
		{"33 levels inside merchantData", `{"handle":{"handle":"` + e2etest.StringHandle + `","merchantData":{"x":` + nest(30) + `}}}`, 400},
		{"4 KiB of nested arrays", `{"handle":"` + e2etest.StringHandle + `","x":` + nest(2000) + `}`, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := len(st.Host.Callouts())
			resp := st.Do(t, st.Req(t, c.body))
			if resp.Status != c.status {
				t.Fatalf("got %d %s, want %d", resp.Status, resp.Body, c.status)
			}
			if c.status == 400 {
				if e := e2etest.DecodeError(t, resp); e.Error != "ErrorInvalidInputBody" || e.Description != "body: nested deeper than 32" {
					t.Errorf("got %s %q", e.Error, e.Description)
				}
				if len(st.Host.Callouts()) != calls {
					t.Error("a callout was made")
				}
			}
			printableLogs(t, st.Host)
		})
	}
}

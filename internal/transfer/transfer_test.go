package transfer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/internal/config"
	"github.com/firmly/session-transfer-filter/internal/headermap"
)

const (
	hs       = "hs256-secret-0123456789abcdef0123456789"
	secret   = "test-secret-0123456789abcdef0123456789abcdef"
	uuid     = "3f1c2a9e-7b4d-4e8a-9c2f-5d6e7f8a9b0c"
	cartJSON = `{"cart":{"currency":"USD","line_items":[{"platform_line_item_id":"0","sku":"A","description":"d","quantity":1,"unit_price":100,"available_quantity":1}]}}`
)

var now = time.Unix(1_800_000_000, 0)

func engine(t testing.TB) *Engine {
	cfg, err := config.Parse([]byte(`{"auth":{"hs256_secret":"`+hs+`"},"session_key":{"secret":"`+secret+`"},
	  "merchants":{"staging.luma.gift":{"cluster":"m","timeout_ms":1500}},"backend":{"cluster":"b","timeout_ms":900}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func hsToken(claims string) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	m := hmac.New(sha256.New, []byte(hs))
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var goodToken = hsToken(fmt.Sprintf(`{"device_id":"dev-1","exp":%d}`, now.Unix()+60))

func headers(method, path string, extra ...[2]string) headermap.Pairs {
	h := [][2]string{{":method", method}, {":path", path}, {":authority", "api"}}
	return append(h, extra...)
}

const path = "/api/v2/domains/staging.luma.gift/session/transfer"

var (
	authz = [2]string{"x-firmly-authorization", goodToken}
	json_ = [2]string{"content-type", "application/json"}
)

// The order of checks: method, authz, domain, merchant, content type, size.
func TestStartOrderOfChecks(t *testing.T) {
	e := engine(t)
	for _, c := range []struct {
		name    string
		h       headermap.Pairs
		kind    StepKind
		status  int
		errName string
	}{
		{"other path passes", headers("POST", "/api/v2/carts"), PassThrough, 0, ""},
		{"OPTIONS passes (CORS preflight)", headers("OPTIONS", path), PassThrough, 0, ""},
		{"GET is 405 before auth", headers("GET", path), Reply, 405, "ErrorMethodNotAllowed"},
		{"no token is 401 before the domain", headers("POST", "/api/v2/domains/bad_domain/session/transfer"), Reply, 401, "MissingAuthHeader"},
		{"repeated token is 401", headers("POST", path, authz, authz, json_), Reply, 401, "MissingAuthHeader"},
		{"bad token is 401", headers("POST", path, [2]string{"x-firmly-authorization", "x.y.z"}, json_), Reply, 401, "MissingAuthHeader"},
		{"invalid domain is 400 before merchant", headers("POST", "/api/v2/domains/bad_domain/session/transfer", authz), Reply, 400, "ErrorInvalidInputBody"},
		{"unknown merchant is 422 before content type", headers("POST", "/api/v2/domains/other.shop/session/transfer", authz), Reply, 422, "ErrorCannotTransferSession"},
		{"wrong content type is 400", headers("POST", path, authz, [2]string{"content-type", "text/plain"}), Reply, 400, "ErrorInvalidInputBody"},
		{"content-length over the limit is 413", headers("POST", path, authz, json_, [2]string{"content-length", "70000"}), Reply, 413, "ErrorPayloadTooLarge"},
		{"www. and v1 and upper case are the same merchant", headers("POST", "/api/v1/domains/WWW.Staging.Luma.Gift/session/transfer/?q", authz, json_), AwaitBody, 0, ""},
		{"accepted", headers("POST", path, authz, json_), AwaitBody, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, step := e.Start(c.h, now)
			if step.Kind != c.kind {
				t.Fatalf("step %v, want %v", step.Kind, c.kind)
			}
			if c.kind == Reply {
				if tr != nil || step.Reply.Status != c.status || step.Reply.Error.Kind.Name != c.errName {
					t.Errorf("got %d %s", step.Reply.Status, step.Reply.Body)
				}
			}
			if c.kind == AwaitBody && tr.Domain() != "staging.luma.gift" {
				t.Errorf("domain %q", tr.Domain())
			}
		})
	}
	_, step := e.Start(headers("DELETE", path), now)
	if got := fmt.Sprint(step.Reply.Headers); !strings.Contains(got, "[allow POST]") {
		t.Errorf("405 without allow: POST: %s", got)
	}
}

func start(t *testing.T, e *Engine) *Transfer {
	tr, step := e.Start(headers("POST", path, authz, json_, [2]string{"x-request-id", "r-1"}), now)
	if step.Kind != AwaitBody {
		t.Fatalf("not accepted: %+v", step.Reply)
	}
	return tr
}

func TestFullTransfer(t *testing.T) {
	e := engine(t)
	tr := start(t, e)
	step := tr.OnBody([]byte(`{"handle":"` + uuid + `"}`))
	if step.Kind != Dispatch || step.Callout.Cluster != "m" || step.Callout.TimeoutMs != 1500 {
		t.Fatalf("merchant step %+v", step)
	}
	if want := "b4d3fb9f5b284e7b67e310e72b2a3ebbfaed01cfdf73f02536c33dd570a6fdc4"; tr.SessionKey() != want {
		t.Errorf("session key %s, want the SPEC's known answer", tr.SessionKey())
	}
	if string(step.Callout.Body) != `{"domain":"staging.luma.gift","handle":"`+uuid+`","cookies":[]}` {
		t.Errorf("export body %s", step.Callout.Body)
	}
	step = tr.OnCalloutAnswer(200, []byte(cartJSON), len(cartJSON), now)
	if step.Kind != Dispatch || step.Callout.Cluster != "b" || step.Callout.TimeoutMs != 900 {
		t.Fatalf("backend step %+v", step)
	}
	var rec map[string]any
	json.Unmarshal(step.Callout.Body, &rec)
	if rec["session_key"] != tr.SessionKey() || rec["device_id"] != "dev-1" || rec["transferred_at"] != float64(now.Unix()) {
		t.Errorf("record %s", step.Callout.Body)
	}
	if _, hasApp := rec["app_id"]; hasApp {
		t.Error("app_id written although the token has none")
	}
	if tr.CalloutBodyLimit() != 0 {
		t.Error("the backend answer's body would be read")
	}
	step = tr.OnCalloutAnswer(201, nil, 0, now)
	if step.Kind != Reply || step.Reply.Status != 200 || !json.Valid(step.Reply.Body) || !tr.Done() {
		t.Fatalf("final step %+v", step)
	}
	// Nothing more may happen once answered.
	if s := tr.OnCalloutAnswer(200, nil, 0, now); s.Reply == nil || s.Reply.Status != 500 {
		t.Errorf("late event: %+v", s)
	}
}

func TestFailuresNeverWrite(t *testing.T) {
	e := engine(t)
	for _, c := range []struct {
		name    string
		status  int
		body    string
		size    int
		errName string
	}{
		{"reset", 0, "", 0, "ErrorStoreUnavailable"},
		{"expired session", 410, "", 0, "ErrorCannotTransferSession"},
		{"merchant down", 503, "", 0, "ErrorStoreUnavailable"},
		{"202", 202, "", 0, "ErrorInvalidMerchantResponse"},
		{"bad cart", 200, `{"cart":1}`, 10, "ErrorInvalidMerchantResponse"},
		{"too large", 200, "", 2 << 20, "ErrorInvalidMerchantResponse"},
		{"empty cart", 200, `{"cart":{"currency":"USD","line_items":[]}}`, 40, "ErrorNoLineItem"},
		{"no stock", 200, strings.Replace(cartJSON, `"available_quantity":1`, `"available_quantity":0`, 1), 100, "ErrorNotEnoughStock"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := start(t, e)
			tr.OnBody([]byte(`{"handle":"` + uuid + `"}`))
			step := tr.OnCalloutAnswer(c.status, []byte(c.body), c.size, now)
			if step.Kind != Reply || step.Reply.Error == nil || step.Reply.Error.Kind.Name != c.errName {
				t.Fatalf("got %+v, want %s and no backend callout", step, c.errName)
			}
		})
	}
	tr := start(t, e)
	tr.OnBody([]byte(`{"handle":"` + uuid + `"}`))
	tr.OnCalloutAnswer(200, []byte(cartJSON), len(cartJSON), now)
	for _, st := range []int{0, 500, 204, 409} {
		tr2 := *tr
		if s := tr2.OnBackendResponse(st); s.Reply.Error == nil || s.Reply.Error.Kind.Name != "ErrorSessionStoreUnavailable" || strings.Contains(string(s.Reply.Body), "line_items") {
			t.Errorf("backend %d: %+v", st, s.Reply)
		}
	}
	tr3 := *tr
	if s := tr3.DispatchFailed(nil); s.Reply.Error.Kind.Name != "ErrorSessionStoreUnavailable" {
		t.Errorf("backend dispatch failure: %+v", s.Reply)
	}
}

func TestBodyErrors(t *testing.T) {
	e := engine(t)
	tr := start(t, e)
	if s := tr.OnBody([]byte(`{"handle":"x"}`)); s.Reply.Error.Description != "handle: must be at least 36 characters" {
		t.Errorf("%+v", s.Reply.Error)
	}
	tr = start(t, e)
	if s := tr.OnBody(make([]byte, 70000)); s.Reply.Status != 413 {
		t.Errorf("%+v", s.Reply)
	}
	tr = start(t, e)
	if s := tr.OnBody(nil); s.Reply.Error.Description != "body: must be valid JSON" {
		t.Errorf("%+v", s.Reply.Error)
	}
}

func BenchmarkTransfer(b *testing.B) {
	e := engine(b)
	h := headers("POST", path, authz, json_)
	body := []byte(`{"handle":{"handle":"cart-1","token":"` + uuid + `"},"cookies":["a=1","b=2"]}`)
	b.ReportAllocs()
	for b.Loop() {
		tr, _ := e.Start(h, now)
		tr.OnBody(body)
		tr.OnCalloutAnswer(200, []byte(cartJSON), len(cartJSON), now)
		tr.OnCalloutAnswer(201, nil, 0, now)
	}
}

// A refusal names the merchant only once a configured one is known, and
// every reply names its outcome; the export callout says it is the export.
func TestStepsNameTheMerchantAndOutcome(t *testing.T) {
	e := engine(t)
	for _, c := range []struct {
		name, merchant, outcome string
		h                       headermap.Pairs
	}{
		{"a 401 names no merchant", "", "MissingAuthHeader", headers("POST", path)},
		{"an unconfigured merchant is not named", "", "ErrorCannotTransferSession", headers("POST", "/api/v2/domains/other.shop/session/transfer", authz)},
		{"a wrong content type names the merchant", "staging.luma.gift", "ErrorInvalidInputBody", headers("POST", path, authz, [2]string{"content-type", "text/plain"})},
		{"a content-length over the limit names the merchant", "staging.luma.gift", "ErrorPayloadTooLarge", headers("POST", path, authz, json_, [2]string{"content-length", "70000"})},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, step := e.Start(c.h, now)
			if step.Merchant != c.merchant || step.Reply.Outcome() != c.outcome {
				t.Errorf("got merchant %q outcome %s, want %q %s", step.Merchant, step.Reply.Outcome(), c.merchant, c.outcome)
			}
		})
	}
	tr := start(t, e)
	step := tr.OnBody([]byte(`{"handle":"` + uuid + `"}`))
	if step.Kind != Dispatch || !step.Callout.Export {
		t.Fatalf("got %+v, want the export callout", step)
	}
	step = tr.OnCalloutAnswer(200, []byte(cartJSON), len(cartJSON), now)
	if step.Kind != Dispatch || step.Callout.Export {
		t.Fatalf("got %+v, want the backend write", step)
	}
	if step = tr.OnCalloutAnswer(201, nil, 0, now); step.Reply.Outcome() != "transferred" {
		t.Errorf("got outcome %s, want transferred", step.Reply.Outcome())
	}
}

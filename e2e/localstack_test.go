package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/faults"
	"github.com/firmly/session-transfer-filter/e2e/localstack"
)

// End-to-end through the local stack: a real HTTP client over loopback, the
// reference services over TLS, configuration from envoy.yaml.

const demoHandle = "3f1c2a9e-7b4d-4e8a-9c2f-5d6e7f8a9b0c"

func startLocal(t *testing.T) *localstack.Stack {
	t.Helper()
	root, err := localstack.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := localstack.Start(ctx, localstack.Options{RepoRoot: root, Wasm: pluginWasm(t), Ephemeral: true, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

type localResult struct {
	status int
	body   []byte
	err    apiError
}

func localTransfer(t *testing.T, st *localstack.Stack, body string) localResult {
	t.Helper()
	root, _ := localstack.FindRepoRoot(".")
	tok, err := localstack.DevToken(root, "dev-device-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return localTransferWith(t, st, tok, body)
}

// localTransferWith sends a transfer with the given device token.
func localTransferWith(t *testing.T, st *localstack.Stack, tok, body string) localResult {
	t.Helper()
	req, _ := http.NewRequest("POST", st.ProxyURL+"/api/v2/domains/staging.luma.gift/session/transfer", strings.NewReader(body))
	req.Header.Set("content-type", "application/json")
	req.Header.Set("x-firmly-authorization", "Bearer "+tok)
	resp, err := st.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := localResult{status: resp.StatusCode, body: b}
	if resp.StatusCode != 200 {
		json.Unmarshal(b, &r.err)
	}
	return r
}

func admin(t *testing.T, st *localstack.Stack, method, url string, body any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	resp, err := st.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d", method, url, resp.StatusCode)
	}
}

func storedSession(t *testing.T, st *localstack.Stack, key string) (map[string]any, bool) {
	t.Helper()
	resp, err := st.Client.Get(st.BackendURL + "/v1/sessions/" + key)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 404 {
		return nil, false
	}
	var rec map[string]any
	json.NewDecoder(resp.Body).Decode(&rec)
	return rec, true
}

func sessionKeyOf(t *testing.T, st *localstack.Stack) string {
	t.Helper()
	var key string
	for _, c := range st.Host.Callouts() {
		if k, ok := c.Headers.Get("x-firmly-session-key"); ok {
			key = k
		}
	}
	if key == "" {
		t.Fatal("no export callout seen")
	}
	return key
}

func TestLocalStackTransferRepeatAndStock(t *testing.T) {
	st := startLocal(t)
	body := `{"handle":"` + demoHandle + `"}`
	first := localTransfer(t, st, body)
	if first.status != 200 {
		t.Fatalf("got %d %s", first.status, first.body)
	}
	key := sessionKeyOf(t, st)
	rec, ok := storedSession(t, st, key)
	if !ok || rec["device_id"] != "dev-device-1" || rec["domain"] != "staging.luma.gift" {
		t.Fatalf("stored %v", rec)
	}
	var c1 map[string]any
	json.Unmarshal(first.body, &c1)
	if fmt.Sprint(rec["cart"].(map[string]any)["cart_id"]) != c1["cart_id"] {
		t.Errorf("stored cart differs from the answer")
	}

	// Repeating updates the same session: same key, same ids, one record.
	second := localTransfer(t, st, body)
	if second.status != 200 || !bytes.Equal(first.body, second.body) {
		t.Errorf("repeat: %d, same body %v", second.status, bytes.Equal(first.body, second.body))
	}
	if n := st.Backend.Count(); n != 1 {
		t.Errorf("%d stored sessions, want 1", n)
	}

	// Live stock: drop the hoodie to 1 while the cart wants 2.
	admin(t, st, "PUT", st.MerchantURL+"/_admin/products/MH07-XS-Gray/stock", map[string]int{"available_quantity": 1})
	before, _ := storedSession(t, st, key)
	third := localTransfer(t, st, body)
	if third.status != 422 || third.err.Error != "ErrorNotEnoughStock" || !strings.Contains(third.err.Description, "MH07-XS-Gray") {
		t.Errorf("after the stock change: %d %+v", third.status, third.err)
	}
	after, _ := storedSession(t, st, key)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Error("a failed transfer changed the stored session")
	}
	admin(t, st, "PUT", st.MerchantURL+"/_admin/products/MH07-XS-Gray/stock", map[string]int{"available_quantity": 5})
	if r := localTransfer(t, st, body); r.status != 200 {
		t.Errorf("after restocking: %d %s", r.status, r.body)
	}
}

func TestLocalStackSessionsSurviveABackendRestart(t *testing.T) {
	st := startLocal(t)
	if r := localTransfer(t, st, `{"handle":"`+demoHandle+`"}`); r.status != 200 {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	key := sessionKeyOf(t, st)
	if err := st.RestartBackend(); err != nil {
		t.Fatal(err)
	}
	if rec, ok := storedSession(t, st, key); !ok || rec["session_key"] != key {
		t.Fatalf("session lost across the restart: %v", rec)
	}
	// And the restarted backend takes writes again.
	if r := localTransfer(t, st, `{"handle":"`+demoHandle+`"}`); r.status != 200 {
		t.Errorf("after the restart: %d %s", r.status, r.body)
	}
}

func TestLocalStackObjectHandleWithCookies(t *testing.T) {
	st := startLocal(t)
	ok := localTransfer(t, st, `{"handle":{"handle":"cart-12345","token":"9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b"},"cookies":["PHPSESSID=abc123; path=/"]}`)
	if ok.status != 200 || !strings.Contains(string(ok.body), `"coupons":["WELCOME10"]`) {
		t.Errorf("got %d %s", ok.status, ok.body)
	}
	noCookie := localTransfer(t, st, `{"handle":{"handle":"cart-12345","token":"9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b"}}`)
	if noCookie.status != 422 || noCookie.err.Error != "ErrorCannotTransferSession" {
		t.Errorf("without the session cookie: %d %+v", noCookie.status, noCookie.err)
	}
}

func TestLocalStackInjectedFaults(t *testing.T) {
	st := startLocal(t)
	body := `{"handle":"` + demoHandle + `"}`
	for _, c := range []struct {
		name     string
		merchant *faults.Fault
		backend  *faults.Fault
		status   int
		errName  string
	}{
		{"merchant answers 500", &faults.Fault{Status: 500, Times: 1}, nil, 503, "ErrorStoreUnavailable"},
		{"merchant too slow", &faults.Fault{LatencyMs: 2500, Times: 1}, nil, 503, "ErrorStoreUnavailable"},
		{"merchant resets", &faults.Fault{Reset: true, Times: 1}, nil, 503, "ErrorStoreUnavailable"},
		{"merchant malformed body", &faults.Fault{Malformed: true, Times: 1}, nil, 502, "ErrorInvalidMerchantResponse"},
		{"merchant session expired (this session only)", &faults.Fault{Match: demoHandle, Status: 410, Times: 1}, nil, 422, "ErrorCannotTransferSession"},
		{"backend answers 500", nil, &faults.Fault{Status: 500, Times: 1}, 503, "ErrorSessionStoreUnavailable"},
		{"backend too slow", nil, &faults.Fault{LatencyMs: 2500, Times: 1}, 503, "ErrorSessionStoreUnavailable"},
		{"backend resets", nil, &faults.Fault{Reset: true, Times: 1}, 503, "ErrorSessionStoreUnavailable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.merchant != nil {
				admin(t, st, "POST", st.MerchantURL+"/_admin/faults", c.merchant)
			}
			if c.backend != nil {
				admin(t, st, "POST", st.BackendURL+"/_admin/faults", c.backend)
			}
			defer admin(t, st, "DELETE", st.MerchantURL+"/_admin/faults", nil)
			defer admin(t, st, "DELETE", st.BackendURL+"/_admin/faults", nil)
			r := localTransfer(t, st, body)
			if r.status != c.status || r.err.Error != c.errName {
				t.Errorf("got %d %+v, want %d %s", r.status, r.err, c.status, c.errName)
			}
			if n := st.Backend.Count(); n != 0 {
				t.Errorf("%d sessions stored after a failed transfer", n)
			}
		})
	}
}

func TestLocalStackSessionsMadeThroughTheMerchantAPI(t *testing.T) {
	st := startLocal(t)
	resp, err := st.Client.Post(st.MerchantURL+"/_admin/sessions", "application/json",
		strings.NewReader(`{"lines":[{"sku":"24-MB01","quantity":2}],"cookies":{"sid":"s-1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Handle string }
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != 201 || len(created.Handle) != 36 {
		t.Fatalf("created %d %+v", resp.StatusCode, created)
	}
	r := localTransfer(t, st, `{"handle":"`+created.Handle+`","cookies":["sid=s-1"]}`)
	if r.status != 200 || !strings.Contains(string(r.body), `"sku":"24-MB01"`) {
		t.Errorf("got %d %s", r.status, r.body)
	}
	admin(t, st, "DELETE", st.MerchantURL+"/_admin/sessions/"+created.Handle, nil)
	if r := localTransfer(t, st, `{"handle":"`+created.Handle+`","cookies":["sid=s-1"]}`); r.status != 422 || r.err.Error != "ErrorCannotTransferSession" {
		t.Errorf("after expiry: %d %+v", r.status, r.err)
	}
}

// Many clients at once across the stack's two worker VMs: every transfer
// succeeds, each session is written, and no VM fails.
func TestLocalStackConcurrentTransfers(t *testing.T) {
	st := startLocal(t)
	const clients = 24
	handles := make([]string, clients)
	for i := range handles {
		resp, err := st.Client.Post(st.MerchantURL+"/_admin/sessions", "application/json",
			strings.NewReader(`{"lines":[{"sku":"WS12-M-Blue","quantity":1}]}`))
		if err != nil {
			t.Fatal(err)
		}
		var s struct{ Handle string }
		json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		handles[i] = s.Handle
	}
	errs := make(chan string, clients)
	for _, h := range handles {
		go func() {
			r := localTransfer(t, st, `{"handle":"`+h+`"}`)
			if r.status != 200 {
				errs <- fmt.Sprintf("%d %s", r.status, r.body)
				return
			}
			errs <- ""
		}()
	}
	for range handles {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
	if n := st.Backend.Count(); n != clients {
		t.Errorf("%d sessions stored, want %d", n, clients)
	}
	for i := 0; i < 2; i++ {
		if err := st.Host.Worker(i).Failed(); err != nil {
			t.Errorf("worker %d failed: %v", i, err)
		}
	}
}

package localstacktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/faults"
	"github.com/firmly/session-transfer-filter/e2e/localstack"
)

// End-to-end through the local stack: a real HTTP client over loopback, the
// reference services over TLS, configuration from envoy.yaml.

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
	st := e2etest.StartLocal(t)
	body := `{"handle":"` + e2etest.DemoHandle + `"}`
	first := e2etest.LocalTransfer(t, st, body)
	if first.Status != 200 {
		t.Fatalf("got %d %s", first.Status, first.Body)
	}
	key := sessionKeyOf(t, st)
	rec, ok := storedSession(t, st, key)
	if !ok || rec["device_id"] != "dev-device-1" || rec["domain"] != "staging.luma.gift" {
		t.Fatalf("stored %v", rec)
	}
	var c1 map[string]any
	json.Unmarshal(first.Body, &c1)
	if fmt.Sprint(rec["cart"].(map[string]any)["cart_id"]) != c1["cart_id"] {
		t.Errorf("stored cart differs from the answer")
	}

	// Repeating updates the same session: same key, same ids, one record.
	second := e2etest.LocalTransfer(t, st, body)
	if second.Status != 200 || !bytes.Equal(first.Body, second.Body) {
		t.Errorf("repeat: %d, same body %v", second.Status, bytes.Equal(first.Body, second.Body))
	}
	if n := st.Backend.Count(); n != 1 {
		t.Errorf("%d stored sessions, want 1", n)
	}

	// Live stock: drop the hoodie to 1 while the cart wants 2.
	e2etest.Admin(t, st, "PUT", st.MerchantURL+"/_admin/products/MH07-XS-Gray/stock", map[string]int{"available_quantity": 1})
	before, _ := storedSession(t, st, key)
	third := e2etest.LocalTransfer(t, st, body)
	if third.Status != 422 || third.Err.Error != "ErrorNotEnoughStock" || !strings.Contains(third.Err.Description, "MH07-XS-Gray") {
		t.Errorf("after the stock change: %d %+v", third.Status, third.Err)
	}
	after, _ := storedSession(t, st, key)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Error("a failed transfer changed the stored session")
	}
	e2etest.Admin(t, st, "PUT", st.MerchantURL+"/_admin/products/MH07-XS-Gray/stock", map[string]int{"available_quantity": 5})
	if r := e2etest.LocalTransfer(t, st, body); r.Status != 200 {
		t.Errorf("after restocking: %d %s", r.Status, r.Body)
	}
}

func TestLocalStackSessionsSurviveABackendRestart(t *testing.T) {
	st := e2etest.StartLocal(t)
	if r := e2etest.LocalTransfer(t, st, `{"handle":"`+e2etest.DemoHandle+`"}`); r.Status != 200 {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
	key := sessionKeyOf(t, st)
	if err := st.RestartBackend(); err != nil {
		t.Fatal(err)
	}
	if rec, ok := storedSession(t, st, key); !ok || rec["session_key"] != key {
		t.Fatalf("session lost across the restart: %v", rec)
	}
	// And the restarted backend takes writes again.
	if r := e2etest.LocalTransfer(t, st, `{"handle":"`+e2etest.DemoHandle+`"}`); r.Status != 200 {
		t.Errorf("after the restart: %d %s", r.Status, r.Body)
	}
}

func TestLocalStackObjectHandleWithCookies(t *testing.T) {
	st := e2etest.StartLocal(t)
	ok := e2etest.LocalTransfer(t, st, `{"handle":{"handle":"cart-12345","token":"9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b"},"cookies":["PHPSESSID=abc123; path=/"]}`)
	if ok.Status != 200 || !strings.Contains(string(ok.Body), `"coupons":["WELCOME10"]`) {
		t.Errorf("got %d %s", ok.Status, ok.Body)
	}
	noCookie := e2etest.LocalTransfer(t, st, `{"handle":{"handle":"cart-12345","token":"9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b"}}`)
	if noCookie.Status != 422 || noCookie.Err.Error != "ErrorCannotTransferSession" {
		t.Errorf("without the session cookie: %d %+v", noCookie.Status, noCookie.Err)
	}
}

func TestLocalStackInjectedFaults(t *testing.T) {
	st := e2etest.StartLocal(t)
	body := `{"handle":"` + e2etest.DemoHandle + `"}`
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
		{"merchant session expired (this session only)", &faults.Fault{Match: e2etest.DemoHandle, Status: 410, Times: 1}, nil, 422, "ErrorCannotTransferSession"},
		{"backend answers 500", nil, &faults.Fault{Status: 500, Times: 1}, 503, "ErrorSessionStoreUnavailable"},
		{"backend too slow", nil, &faults.Fault{LatencyMs: 2500, Times: 1}, 503, "ErrorSessionStoreUnavailable"},
		{"backend resets", nil, &faults.Fault{Reset: true, Times: 1}, 503, "ErrorSessionStoreUnavailable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.merchant != nil {
				e2etest.Admin(t, st, "POST", st.MerchantURL+"/_admin/faults", c.merchant)
			}
			if c.backend != nil {
				e2etest.Admin(t, st, "POST", st.BackendURL+"/_admin/faults", c.backend)
			}
			defer e2etest.Admin(t, st, "DELETE", st.MerchantURL+"/_admin/faults", nil)
			defer e2etest.Admin(t, st, "DELETE", st.BackendURL+"/_admin/faults", nil)
			r := e2etest.LocalTransfer(t, st, body)
			if r.Status != c.status || r.Err.Error != c.errName {
				t.Errorf("got %d %+v, want %d %s", r.Status, r.Err, c.status, c.errName)
			}
			if n := st.Backend.Count(); n != 0 {
				t.Errorf("%d sessions stored after a failed transfer", n)
			}
		})
	}
}

func TestLocalStackSessionsMadeThroughTheMerchantAPI(t *testing.T) {
	st := e2etest.StartLocal(t)
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
	r := e2etest.LocalTransfer(t, st, `{"handle":"`+created.Handle+`","cookies":["sid=s-1"]}`)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"sku":"24-MB01"`) {
		t.Errorf("got %d %s", r.Status, r.Body)
	}
	e2etest.Admin(t, st, "DELETE", st.MerchantURL+"/_admin/sessions/"+created.Handle, nil)
	if r := e2etest.LocalTransfer(t, st, `{"handle":"`+created.Handle+`","cookies":["sid=s-1"]}`); r.Status != 422 || r.Err.Error != "ErrorCannotTransferSession" {
		t.Errorf("after expiry: %d %+v", r.Status, r.Err)
	}
}

// Many clients at once across the stack's two worker VMs: every transfer
// succeeds, each session is written, and no VM fails.
func TestLocalStackConcurrentTransfers(t *testing.T) {
	st := e2etest.StartLocal(t)
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
			r := e2etest.LocalTransfer(t, st, `{"handle":"`+h+`"}`)
			if r.Status != 200 {
				errs <- fmt.Sprintf("%d %s", r.Status, r.Body)
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

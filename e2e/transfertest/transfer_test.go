package transfertest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
)

func TestTransferSucceeds(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	body := `{"handle":{"handle":"cart-12345","token":"9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b","merchantData":{"a":1,"a":2}},` +
		`"cookies":["form_key=XyZ; path=/", {"name":" PHPSESSID ","value":"abc123"}]}`
	resp := st.Do(t, st.Req(t, body))
	if resp.Status != 200 {
		t.Fatalf("got %d %s\nlogs:\n%s", resp.Status, resp.Body, st.Host.LogText())
	}
	var cart map[string]any
	if err := json.Unmarshal(resp.Body, &cart); err != nil {
		t.Fatal(err)
	}
	if cart["shop_id"] != e2etest.TestDomain || cart["schema_version"] != "2.0" || !strings.HasPrefix(cart["cart_id"].(string), "cart_") {
		t.Errorf("cart %s", resp.Body)
	}
	m := st.Merchant.Received()
	if len(m) != 1 {
		t.Fatalf("merchant got %d calls", len(m))
	}
	wantExport := `{"domain":"staging.luma.gift","handle":{"handle":"cart-12345","token":"9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b","merchantData":{"a":1,"a":2}},"cookies":["PHPSESSID=abc123","form_key=XyZ"]}`
	if m[0].Body != wantExport || m[0].Method != "POST" || m[0].Path != "/firmly/session/export" ||
		m[0].Header.Get("x-firmly-session-key") != e2etest.ObjectHandleSK || m[0].Header.Get("x-merchant-key") != "mk-1" ||
		m[0].Header.Get("x-request-id") != "req-1" {
		t.Errorf("merchant saw %+v", m[0])
	}
	b := st.Backend.Received()
	if len(b) != 1 || b[0].Method != "PUT" || b[0].Path != "/v1/sessions/"+e2etest.ObjectHandleSK ||
		b[0].Header.Get("idempotency-key") != e2etest.ObjectHandleSK || b[0].Header.Get("x-firmly-device-id") != "dev-123" {
		t.Fatalf("backend saw %+v", b)
	}
	var rec map[string]json.RawMessage
	json.Unmarshal([]byte(b[0].Body), &rec)
	if string(rec["cart"]) != string(resp.Body) || string(rec["device_id"]) != `"dev-123"` || string(rec["app_id"]) != `"app-1"` {
		t.Errorf("backend record %s", b[0].Body)
	}
}

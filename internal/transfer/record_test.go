package transfer

import (
	"encoding/json"
	"testing"

	"github.com/firmly/session-transfer-filter/internal/cart"
)

// The record as json.Marshal wrote it before the hand-written encoder.
type marshalledRecord struct {
	SessionKey    string          `json:"session_key"`
	DeviceID      string          `json:"device_id"`
	AppID         string          `json:"app_id,omitempty"`
	Domain        string          `json:"domain"`
	Cart          json.RawMessage `json:"cart"`
	TransferredAt int64           `json:"transferred_at"`
}

func FuzzRecordMatchesMarshal(f *testing.F) {
	f.Add("key", "dev-123", "app-1", "staging.luma.gift", int64(1764547200))
	f.Add("", "<dev>&", "", "\u2028\xff", int64(-1))
	c := &cart.ShoppingCart{CartID: "cart_1", LineItems: []cart.LineItem{}, Coupons: []string{"<b>"}}
	cartJSON := c.AppendJSON(nil)
	f.Fuzz(func(t *testing.T, key, device, app, domain string, at int64) {
		want, err := json.Marshal(marshalledRecord{key, device, app, domain, cartJSON, at})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := appendRecord(nil, record{key, device, app, domain, at}, c); string(got) != string(want) {
			t.Errorf("got %s\nwant %s", got, want)
		}
	})
}

func TestRecordWritesTheCartInPlace(t *testing.T) {
	c := &cart.ShoppingCart{CartID: "cart_1", Coupons: []string{"<b>"}, LineItems: []cart.LineItem{{SKU: "A"}}}
	cartJSON := c.AppendJSON(nil)
	r := record{"key", "dev-1", "app-1", "staging.luma.gift", 1764547200}
	want, err := json.Marshal(marshalledRecord{r.SessionKey, r.DeviceID, r.AppID, r.Domain, cartJSON, r.TransferredAt})
	if err != nil {
		t.Fatal(err)
	}
	for _, capacity := range []int{0, 16, 4096} { // the buffer grows inside the cart, after it, or not at all
		rec, part := appendRecord(make([]byte, 0, capacity), r, c)
		if string(rec) != string(want) {
			t.Errorf("capacity %d: record %s, want %s", capacity, rec, want)
		}
		if string(part) != string(cartJSON) {
			t.Errorf("capacity %d: cart part %s, want %s", capacity, part, cartJSON)
		}
	}
}

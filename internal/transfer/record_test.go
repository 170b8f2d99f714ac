package transfer

import (
	"encoding/json"
	"testing"
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
	cart := []byte(`{"cart_id":"cart_1","line_items":[],"coupons":["\u003cb\u003e"]}`)
	f.Fuzz(func(t *testing.T, key, device, app, domain string, at int64) {
		want, err := json.Marshal(marshalledRecord{key, device, app, domain, cart, at})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendRecord(nil, record{key, device, app, domain, cart, at}); string(got) != string(want) {
			t.Errorf("got %s\nwant %s", got, want)
		}
	})
}

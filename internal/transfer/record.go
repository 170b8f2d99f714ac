package transfer

import (
	"github.com/firmly/session-transfer-filter/internal/cart"
	"github.com/firmly/session-transfer-filter/internal/jsonw"
)

// record is what the session backend stores (SPEC §2.6); the JSON names are
// those json.Marshal would use with these tags.
type record struct {
	SessionKey    string `json:"session_key"`
	DeviceID      string `json:"device_id"`
	AppID         string `json:"app_id,omitempty"`
	Domain        string `json:"domain"`
	TransferredAt int64  `json:"transferred_at"`
}

// appendRecord writes r with the cart c in its "cart" member, without
// reflection: byte for byte what json.Marshal writes with the cart as a
// json.RawMessage. The cart is written in place by cart.AppendJSON, and its
// part of the record is returned too (it is the reply's body).
func appendRecord(b []byte, r record, c *cart.ShoppingCart) (rec, cartJSON []byte) {
	b = appendRecordHead(b, r)
	start := len(b)
	b = c.AppendJSON(b)
	end := len(b)
	b = appendRecordTail(b, r)
	return b, b[start:end:end]
}

func appendRecordHead(b []byte, r record) []byte {
	b = append(b, `{"session_key":`...)
	b = jsonw.String(b, r.SessionKey)
	b = append(b, `,"device_id":`...)
	b = jsonw.String(b, r.DeviceID)
	if r.AppID != "" {
		b = append(b, `,"app_id":`...)
		b = jsonw.String(b, r.AppID)
	}
	b = append(b, `,"domain":`...)
	b = jsonw.String(b, r.Domain)
	return append(b, `,"cart":`...)
}

func appendRecordTail(b []byte, r record) []byte {
	b = append(b, `,"transferred_at":`...)
	b = jsonw.Int(b, r.TransferredAt)
	return append(b, '}')
}

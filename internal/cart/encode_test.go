package cart

import (
	"encoding/json"
	"strconv"
	"testing"
)

func TestAppendRawCompactsAndEscapesAsMarshal(t *testing.T) {
	for _, raw := range []string{`[]`, `[ {"type" : "CreditCard"} ]`, `["<b>&</b>"]`, "[\"\u2028\"]", `{"a":[1, 2.5e3, null, true]}`} {
		want, err := json.Marshal(RawMessage(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendRaw(nil, RawMessage(raw)); string(got) != string(want) {
			t.Errorf("AppendRaw(%s) = %s, want %s", raw, got, want)
		}
	}
	if got := string(AppendRaw(nil, nil)); got != "null" {
		t.Errorf("AppendRaw(nil) = %s, want null", got)
	}
}

// fuzzCart builds a cart whose every string, number and optional part comes
// from the fuzzer; flags switch the optional parts and nil slices.
func fuzzCart(s1, s2, s3 string, n int64, flags uint16, raw string) *ShoppingCart {
	on := func(bit uint) bool { return flags&(1<<bit) != 0 }
	num := func(v int64) Number {
		if on(0) {
			return ""
		}
		return Number(strconv.FormatInt(v, 10))
	}
	p := Price{Currency: s1, Value: num(n), Number: n, Symbol: s3}
	li := LineItem{LineItemID: s1, PlatformLineItemID: s2, SKU: s3, Description: s1 + s2, Quantity: n, Price: p, LinePrice: p, RequiresShipping: on(1)}
	if on(2) {
		li.BaseSKU, li.VariantID, li.VariantDescription = s2, s3, s1
	}
	if on(3) {
		m := p
		li.MSRP = &m
	}
	if on(4) {
		li.Image = &Image{URL: s2, Alt: s3}
	}
	c := &ShoppingCart{CartID: s1, PlatformID: s2, ShopID: s3, DisplayName: s1, CartStatus: s2,
		SubTotal: p, ShippingTotal: p, TaxTotal: p, AddonTotal: p, Total: p, SchemaVersion: s3}
	if !on(5) {
		c.LineItems = []LineItem{li, li}
	}
	if !on(6) {
		c.Shipments = []Shipment{{ShipmentID: s1, FulfillmentType: FulfillmentType{ID: s1, Name: s2, Description: s3}}}
		if !on(7) {
			c.Shipments[0].LineItemIDs = []string{s1, s2}
		}
	}
	if !on(8) {
		c.Coupons = []string{s3}
	}
	if json.Valid([]byte(raw)) {
		if on(9) {
			c.PaymentMethodOptions = RawMessage(raw)
		}
		if on(10) {
			c.Addons.Offers = []RawMessage{RawMessage(raw)}
			c.Notices = []RawMessage{RawMessage(raw), RawMessage(raw)}
		}
	}
	if !on(11) {
		c.Addons.Selections = []RawMessage{}
	}
	return c
}

func FuzzAppendJSONMatchesMarshal(f *testing.F) {
	f.Add("cart_1", "magento", "Hero <Hoodie> & co", int64(5400), uint16(0), `[{"type":"CreditCard"}]`)
	f.Add("", "\u2028", "\xff", int64(-1), uint16(0xffff), ` [ 1 , "<" ] `)
	f.Add("日本", "\x00\n", `"\`, int64(0), uint16(0x0aaa), `{}`)
	f.Fuzz(func(t *testing.T, s1, s2, s3 string, n int64, flags uint16, raw string) {
		c := fuzzCart(s1, s2, s3, n, flags, raw)
		want, err := json.Marshal(c)
		if err != nil {
			t.Skip(err)
		}
		if got := c.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
		}
	})
}

package cart

import (
	"github.com/firmly/session-transfer-filter/internal/jsonw"
)

// RawMessage is a raw JSON value, written as json.Marshal writes a
// RawMessage. It is the cart's own type so that the module does not
// link encoding/json (about 220 KB of wasm code) for two field types.
type RawMessage []byte

// MarshalJSON returns m, or null when m is nil; json.Marshal compacts and
// escapes it as it does a RawMessage.
func (m RawMessage) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	return m, nil
}

// UnmarshalJSON keeps a copy of data.
func (m *RawMessage) UnmarshalJSON(data []byte) error {
	*m = append((*m)[0:0], data...)
	return nil
}

// Number is a JSON number literal, written as json.Marshal writes a
// json.Number (an empty one as 0).
type Number string

// MarshalJSON returns the literal, or 0 when it is empty.
func (n Number) MarshalJSON() ([]byte, error) {
	if n == "" {
		return []byte("0"), nil
	}
	return []byte(n), nil
}

// UnmarshalJSON keeps the literal of a JSON number.
func (n *Number) UnmarshalJSON(data []byte) error {
	*n = Number(data)
	return nil
}

// AppendJSON appends the cart as JSON, byte for byte what json.Marshal
// writes for it, without reflection: on the transfer path json.Marshal's
// reflection and its re-compaction of raw values were a quarter of the
// module's time (FuzzAppendJSONMatchesMarshal holds the two together).
func (c *ShoppingCart) AppendJSON(b []byte) []byte {
	b = jsonw.Field(b, `{"cart_id":`, c.CartID)
	b = jsonw.Field(b, `,"platform_id":`, c.PlatformID)
	b = jsonw.Field(b, `,"shop_id":`, c.ShopID)
	b = jsonw.Field(b, `,"display_name":`, c.DisplayName)
	b = jsonw.Field(b, `,"cart_status":`, c.CartStatus)
	b = append(b, `,"line_items":`...)
	if c.LineItems == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range c.LineItems {
			if i > 0 {
				b = append(b, ',')
			}
			b = c.LineItems[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"shipments":`...)
	if c.Shipments == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range c.Shipments {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.Field(b, `{"shipment_id":`, s.ShipmentID)
			b = append(b, `,"line_item_ids":`...)
			b = appendStrings(b, s.LineItemIDs)
			b = jsonw.Field(b, `,"fulfillment_type":{"id":`, s.FulfillmentType.ID)
			b = jsonw.Field(b, `,"name":`, s.FulfillmentType.Name)
			b = jsonw.Field(b, `,"description":`, s.FulfillmentType.Description)
			b = append(b, "}}"...)
		}
		b = append(b, ']')
	}
	b = append(b, `,"addons":{"offers":`...)
	b = appendRaws(b, c.Addons.Offers)
	b = append(b, `,"selections":`...)
	b = appendRaws(b, c.Addons.Selections)
	b = append(b, `},"sub_total":`...)
	b = c.SubTotal.appendJSON(b)
	b = append(b, `,"shipping_total":`...)
	b = c.ShippingTotal.appendJSON(b)
	b = append(b, `,"tax_total":`...)
	b = c.TaxTotal.appendJSON(b)
	b = append(b, `,"addon_total":`...)
	b = c.AddonTotal.appendJSON(b)
	b = append(b, `,"total":`...)
	b = c.Total.appendJSON(b)
	b = append(b, `,"coupons":`...)
	b = appendStrings(b, c.Coupons)
	b = append(b, `,"notices":`...)
	b = appendRaws(b, c.Notices)
	b = append(b, `,"payment_method_options":`...)
	b = AppendRaw(b, c.PaymentMethodOptions)
	b = jsonw.Field(b, `,"schema_version":`, c.SchemaVersion)
	return append(b, '}')
}

func (l *LineItem) appendJSON(b []byte) []byte {
	b = jsonw.Field(b, `{"line_item_id":`, l.LineItemID)
	b = jsonw.Field(b, `,"platform_line_item_id":`, l.PlatformLineItemID)
	b = jsonw.Field(b, `,"sku":`, l.SKU)
	if l.BaseSKU != "" {
		b = jsonw.Field(b, `,"base_sku":`, l.BaseSKU)
	}
	if l.VariantID != "" {
		b = jsonw.Field(b, `,"variant_id":`, l.VariantID)
	}
	b = jsonw.Field(b, `,"description":`, l.Description)
	if l.VariantDescription != "" {
		b = jsonw.Field(b, `,"variant_description":`, l.VariantDescription)
	}
	b = append(b, `,"quantity":`...)
	b = jsonw.Int(b, l.Quantity)
	b = append(b, `,"price":`...)
	b = l.Price.appendJSON(b)
	b = append(b, `,"line_price":`...)
	b = l.LinePrice.appendJSON(b)
	if l.MSRP != nil {
		b = append(b, `,"msrp":`...)
		b = l.MSRP.appendJSON(b)
	}
	if l.Image != nil {
		b = jsonw.Field(b, `,"image":{"url":`, l.Image.URL)
		b = jsonw.Field(b, `,"alt":`, l.Image.Alt)
		b = append(b, '}')
	}
	b = append(b, `,"requires_shipping":`...)
	b = jsonw.Bool(b, l.RequiresShipping)
	return append(b, '}')
}

func (p *Price) appendJSON(b []byte) []byte {
	b = jsonw.Field(b, `{"currency":`, p.Currency)
	b = append(b, `,"value":`...)
	if p.Value == "" {
		b = append(b, '0') // as json.Marshal writes an empty json.Number
	} else {
		b = append(b, p.Value...) // always a decimal written by money
	}
	b = append(b, `,"number":`...)
	b = jsonw.Int(b, p.Number)
	b = jsonw.Field(b, `,"symbol":`, p.Symbol)
	return append(b, '}')
}

func appendStrings(b []byte, s []string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonw.String(b, v)
	}
	return append(b, ']')
}

func appendRaws(b []byte, r []RawMessage) []byte {
	if r == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range r {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendRaw(b, v)
	}
	return append(b, ']')
}

// AppendRaw appends a raw JSON value as json.Marshal writes a
// json.RawMessage: compacted, with <, >, &, U+2028 and U+2029 escaped; nil
// is null. The value must be valid JSON (the configuration checked it).
func AppendRaw(b []byte, r RawMessage) []byte {
	if r == nil {
		return append(b, "null"...)
	}
	if !needsRework(r) {
		return append(b, r...)
	}
	return jsonw.CompactHTML(b, r)
}

// needsRework reports whether compaction or escaping could change r.
func needsRework(r []byte) bool {
	for _, c := range r {
		switch c {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xe2:
			return true
		}
	}
	return false
}

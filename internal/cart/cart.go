// Package cart converts a merchant cart into Firmly's V2 ShoppingCart
// (SPEC §2.7). Money stays in integer minor units until it is written, every
// sum is overflow-checked, and ids derive from the session key, so a
// repeated transfer returns identical ids.
package cart

import (
	"encoding/hex"
	"github.com/firmly/session-transfer-filter/internal/fmtlite"
	"strconv"

	"github.com/firmly/session-transfer-filter/internal/merchant"
	"github.com/firmly/session-transfer-filter/internal/money"
	"github.com/firmly/session-transfer-filter/internal/sha256"
)

// Input is everything the V2 cart is built from.
type Input struct {
	SessionKey  string
	Domain      string // shop_id
	DisplayName string
	// PlatformID is the configured fallback when the merchant names none.
	PlatformID string
	// PaymentMethodOptions is the configured raw JSON array.
	PaymentMethodOptions string
	Cart                 *merchant.Cart
}

// Price is Firmly's money object.
type Price struct {
	Currency string `json:"currency"`
	Value    Number `json:"value"`
	Number   int64  `json:"number"`
	Symbol   string `json:"symbol"`
}

// Image is a line item's picture.
type Image struct {
	URL string `json:"url"`
	Alt string `json:"alt"`
}

// LineItem is a V2 line item.
type LineItem struct {
	LineItemID         string `json:"line_item_id"`
	PlatformLineItemID string `json:"platform_line_item_id"`
	SKU                string `json:"sku"`
	BaseSKU            string `json:"base_sku,omitempty"`
	VariantID          string `json:"variant_id,omitempty"`
	Description        string `json:"description"`
	VariantDescription string `json:"variant_description,omitempty"`
	Quantity           int64  `json:"quantity"`
	Price              Price  `json:"price"`
	LinePrice          Price  `json:"line_price"`
	MSRP               *Price `json:"msrp,omitempty"`
	Image              *Image `json:"image,omitempty"`
	RequiresShipping   bool   `json:"requires_shipping"`
}

// FulfillmentType is a shipment's fulfilment.
type FulfillmentType struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Shipment groups the lines that ship together.
type Shipment struct {
	ShipmentID      string          `json:"shipment_id"`
	LineItemIDs     []string        `json:"line_item_ids"`
	FulfillmentType FulfillmentType `json:"fulfillment_type"`
}

// Addons are offers and selections; always empty after a transfer.
type Addons struct {
	Offers     []RawMessage `json:"offers"`
	Selections []RawMessage `json:"selections"`
}

// ShoppingCart is the V2 cart.
type ShoppingCart struct {
	CartID               string       `json:"cart_id"`
	PlatformID           string       `json:"platform_id"`
	ShopID               string       `json:"shop_id"`
	DisplayName          string       `json:"display_name"`
	CartStatus           string       `json:"cart_status"`
	LineItems            []LineItem   `json:"line_items"`
	Shipments            []Shipment   `json:"shipments"`
	Addons               Addons       `json:"addons"`
	SubTotal             Price        `json:"sub_total"`
	ShippingTotal        Price        `json:"shipping_total"`
	TaxTotal             Price        `json:"tax_total"`
	AddonTotal           Price        `json:"addon_total"`
	Total                Price        `json:"total"`
	Coupons              []string     `json:"coupons"`
	Notices              []RawMessage `json:"notices"`
	PaymentMethodOptions RawMessage   `json:"payment_method_options"`
	SchemaVersion        string       `json:"schema_version"`
}

// ShipToAddress is the fulfilment of the single transferred shipment.
var ShipToAddress = FulfillmentType{ID: "SHIP_TO_ADDRESS", Name: "Ship to address", Description: "Ship to a shipping address"}

// ID derives a prefixed id from the session key: kind_ then 32 lower-case
// hex characters of SHA-256(kind, key, index). The session key is already a
// keyed hash, so the ids reveal nothing of the handle.
func ID(kind, sessionKey string, index int) string {
	// Hashed from a stack buffer and written once: one allocation, the id
	// (the concatenations allocated five times per id, four ids and more
	// per transfer).
	var in [128]byte
	m := append(in[:0], kind...)
	m = append(m, 0)
	m = append(m, sessionKey...)
	m = append(m, 0)
	m = strconv.AppendInt(m, int64(index), 10)
	h := sha256.Sum256(m)
	var out [64 + 33]byte
	id := append(out[:0], kind...)
	id = append(id, '_')
	id = hex.AppendEncode(id, h[:16])
	return string(id)
}

func price(c money.Currency, minor int64) Price {
	return Price{Currency: c.Code, Value: Number(c.Decimal(minor)), Number: minor, Symbol: c.Symbol}
}

// Build makes the V2 cart. It fails only when an amount would pass
// money.Max, which the caller reports as an invalid merchant response.
func Build(in Input) (*ShoppingCart, error) {
	mc := in.Cart
	cur := mc.Currency
	out := &ShoppingCart{
		CartID:        ID("cart", in.SessionKey, 0),
		PlatformID:    mc.PlatformID,
		ShopID:        in.Domain,
		DisplayName:   in.DisplayName,
		CartStatus:    "active",
		LineItems:     make([]LineItem, 0, len(mc.Lines)),
		Shipments:     []Shipment{},
		Addons:        Addons{Offers: []RawMessage{}, Selections: []RawMessage{}},
		Coupons:       append([]string{}, mc.Coupons...),
		Notices:       []RawMessage{},
		SchemaVersion: "2.0",
	}
	if out.PlatformID == "" {
		out.PlatformID = in.PlatformID
	}
	out.PaymentMethodOptions = RawMessage(in.PaymentMethodOptions)
	if len(out.PaymentMethodOptions) == 0 {
		out.PaymentMethodOptions = RawMessage("[]")
	}
	var subTotal int64
	var shipped []string
	for i, l := range mc.Lines {
		linePrice, err := money.Mul(l.UnitPrice, l.Quantity)
		if err != nil {
			return nil, fmtlite.Errorf("line %d: line price: %w", i, err)
		}
		if subTotal, err = money.Add(subTotal, linePrice); err != nil {
			return nil, fmtlite.Errorf("sub_total: %w", err)
		}
		li := LineItem{
			LineItemID:         ID("item", in.SessionKey, i),
			PlatformLineItemID: l.PlatformLineItemID,
			SKU:                l.SKU,
			BaseSKU:            l.BaseSKU,
			VariantID:          l.VariantID,
			Description:        l.Description,
			VariantDescription: l.VariantDescription,
			Quantity:           l.Quantity,
			Price:              price(cur, l.UnitPrice),
			LinePrice:          price(cur, linePrice),
			RequiresShipping:   l.RequiresShipping,
		}
		if l.MSRP != nil {
			p := price(cur, *l.MSRP)
			li.MSRP = &p
		}
		if l.Image != nil {
			li.Image = &Image{URL: l.Image.URL, Alt: l.Image.Alt}
		}
		if l.RequiresShipping {
			shipped = append(shipped, li.LineItemID)
		}
		out.LineItems = append(out.LineItems, li)
	}
	if len(shipped) > 0 {
		out.Shipments = append(out.Shipments, Shipment{ShipmentID: ID("ship", in.SessionKey, 0), LineItemIDs: shipped, FulfillmentType: ShipToAddress})
	}
	total, err := money.Add(subTotal, mc.ShippingTotal)
	if err == nil {
		total, err = money.Add(total, mc.TaxTotal)
	}
	if err != nil {
		return nil, fmtlite.Errorf("total: %w", err)
	}
	out.SubTotal = price(cur, subTotal)
	out.ShippingTotal = price(cur, mc.ShippingTotal)
	out.TaxTotal = price(cur, mc.TaxTotal)
	out.AddonTotal = price(cur, 0)
	out.Total = price(cur, total)
	return out, nil
}

package merchant

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/firmly/session-transfer-filter/internal/sessionkey"
)

var lim = Limits{MaxLineItems: 250, MaxBodyBytes: 1 << 20}

const line = `{"platform_line_item_id":"0","sku":"MH07","description":"Hoodie","quantity":2,"unit_price":5400,"available_quantity":10}`

func cartWith(lines string, extra string) string {
	return `{"cart":{"currency":"USD","line_items":[` + lines + `]` + extra + `}}`
}

func TestExportRequestBody(t *testing.T) {
	got := string(ExportRequestBody("luma.gift", `{"handle":"h","merchantData":{"a":1,"a":2}}`,
		[]sessionkey.Cookie{{Name: "b", Value: "2"}, {Name: "a", Value: "x\"y"}, {Name: "a", Value: "1"}}))
	want := `{"domain":"luma.gift","handle":{"handle":"h","merchantData":{"a":1,"a":2}},"cookies":["a=1","a=x\"y","b=2"]}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestCheckStatus(t *testing.T) {
	for status, want := range map[int]string{
		200: "", 401: "ErrorCannotTransferSession", 403: "ErrorCannotTransferSession", 404: "ErrorCannotTransferSession",
		409: "ErrorCannotTransferSession", 410: "ErrorCannotTransferSession", 422: "ErrorCannotTransferSession",
		201: "ErrorInvalidMerchantResponse", 204: "ErrorInvalidMerchantResponse", 0: "ErrorStoreUnavailable",
		500: "ErrorStoreUnavailable", 502: "ErrorStoreUnavailable", 503: "ErrorStoreUnavailable", 504: "ErrorStoreUnavailable",
		400: "ErrorStoreUnavailable", 301: "ErrorStoreUnavailable", 429: "ErrorStoreUnavailable",
	} {
		err := CheckStatus(status)
		got := ""
		if err != nil {
			got = err.Kind.Name
		}
		if got != want {
			t.Errorf("status %d: got %q, want %q", status, got, want)
		}
	}
}

func TestParseCart(t *testing.T) {
	c, err := ParseCart([]byte(`{"cart":{"platform_id":"magento","currency":"KWD","line_items":[`+
		`{"platform_line_item_id":"0","sku":"A","base_sku":"B","variant_id":"v","description":"d","variant_description":"vd",`+
		`"quantity":1,"unit_price":0,"msrp":7,"image":{"url":"u","alt":"a"},"requires_shipping":false,"available_quantity":0}],`+
		`"shipping_total":5,"tax_total":6,"coupons":["X"]},"extra":1}`), lim)
	if err != nil {
		t.Fatal(err)
	}
	l := c.Lines[0]
	if c.PlatformID != "magento" || c.Currency.Decimals != 3 || c.ShippingTotal != 5 || c.TaxTotal != 6 || c.Coupons[0] != "X" ||
		l.BaseSKU != "B" || l.VariantID != "v" || *l.MSRP != 7 || l.Image.URL != "u" || l.RequiresShipping || l.AvailableQuantity != 0 {
		t.Errorf("parsed %+v %+v", c, l)
	}
	c, _ = ParseCart([]byte(cartWith(line, "")), lim)
	if !c.Lines[0].RequiresShipping || c.ShippingTotal != 0 || c.Coupons != nil {
		t.Errorf("defaults %+v", c)
	}
}

func TestParseCartRefuses(t *testing.T) {
	many := strings.Repeat(line+",", 250) + line
	for _, c := range []struct{ name, body, want string }{
		{"not JSON", `{`, "not valid JSON"},
		{"no cart", `{"items":[]}`, "cart: must be an object"},
		{"no currency", `{"cart":{"line_items":[]}}`, "cart.currency: required string"},
		{"unknown currency", `{"cart":{"currency":"XYZ","line_items":[]}}`, "cart.currency: not an ISO 4217 currency"},
		{"lower-case currency", `{"cart":{"currency":"usd","line_items":[]}}`, "cart.currency: not an ISO 4217 currency"},
		{"no line_items", `{"cart":{"currency":"USD"}}`, "cart.line_items: required array"},
		{"too many lines", cartWith(many, ""), "cart.line_items: more than 250 lines"},
		{"line not an object", cartWith(`1`, ""), "cart.line_items[0]: must be an object"},
		{"missing sku", cartWith(strings.Replace(line, `"sku":"MH07",`, "", 1), ""), "cart.line_items[0].sku: required"},
		{"empty sku", cartWith(strings.Replace(line, `"MH07"`, `""`, 1), ""), "cart.line_items[0].sku: must be a non-empty string"},
		{"missing quantity", cartWith(strings.Replace(line, `"quantity":2,`, "", 1), ""), "cart.line_items[0].quantity: required"},
		{"zero quantity", cartWith(strings.Replace(line, `"quantity":2`, `"quantity":0`, 1), ""), "cart.line_items[0].quantity: must be at least 1"},
		{"fractional price", cartWith(strings.Replace(line, `5400`, `54.00`, 1), ""), "cart.line_items[0].unit_price: must be an integer"},
		{"exponent price", cartWith(strings.Replace(line, `5400`, `54e2`, 1), ""), "cart.line_items[0].unit_price: must be an integer"},
		{"string price", cartWith(strings.Replace(line, `5400`, `"5400"`, 1), ""), "cart.line_items[0].unit_price: must be an integer"},
		{"negative price", cartWith(strings.Replace(line, `5400`, `-1`, 1), ""), "cart.line_items[0].unit_price: must not be negative"},
		{"overflowing price", cartWith(strings.Replace(line, `5400`, `9007199254740992`, 1), ""), "cart.line_items[0].unit_price: too large"},
		{"price beyond int64", cartWith(strings.Replace(line, `5400`, `99999999999999999999`, 1), ""), "cart.line_items[0].unit_price: too large"},
		{"missing stock", cartWith(strings.Replace(line, `,"available_quantity":10`, "", 1), ""), "cart.line_items[0].available_quantity: required"},
		{"negative shipping", cartWith(line, `,"shipping_total":-5`), "cart.shipping_total: must not be negative"},
		{"coupons not strings", cartWith(line, `,"coupons":[1]`), "cart.coupons[0]: must be a string"},
		{"image without url", cartWith(strings.Replace(line, `}`, `,"image":{"alt":"x"}}`, 1), ""), "cart.line_items[0].image: must be an object with a url string"},
		{"requires_shipping not bool", cartWith(strings.Replace(line, `}`, `,"requires_shipping":"yes"}`, 1), ""), "cart.line_items[0].requires_shipping: must be true or false"},
		{"platform_id not a string", `{"cart":{"platform_id":1,"currency":"USD","line_items":[]}}`, "cart.platform_id: must be a string"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseCart([]byte(c.body), lim)
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Kind.Name != "ErrorInvalidMerchantResponse" || err.Description != "merchant cart: "+c.want {
				t.Errorf("got %s %q, want %q", err.Kind.Name, err.Description, c.want)
			}
		})
	}
	if _, err := ParseCart([]byte(cartWith(line, "")), Limits{MaxLineItems: 250, MaxBodyBytes: 10}); err == nil || !strings.Contains(err.Description, "larger than 10 bytes") {
		t.Errorf("size limit: %v", err)
	}
}

func TestCheckCart(t *testing.T) {
	if err := CheckCart(&Cart{}); err == nil || err.Kind.Name != "ErrorNoLineItem" {
		t.Errorf("empty cart: %v", err)
	}
	err := CheckCart(&Cart{Lines: []Line{{SKU: "A", Quantity: 3, AvailableQuantity: 2}, {SKU: "B", Quantity: 1, AvailableQuantity: 1}, {SKU: "C", Quantity: 1}}})
	if err == nil || err.Kind.Name != "ErrorNotEnoughStock" || err.Description != "not enough stock for A (wanted 3, available 2), C (wanted 1, available 0)" {
		t.Errorf("stock: %v", err)
	}
	if err := CheckCart(&Cart{Lines: []Line{{SKU: "A", Quantity: 2, AvailableQuantity: 2}}}); err != nil {
		t.Errorf("exact stock refused: %v", err)
	}
}

func TestCheckCartNamesAtMostTenShortSKUs(t *testing.T) {
	var lines []Line
	for i := 0; i < 5000; i++ {
		lines = append(lines, Line{SKU: fmt.Sprintf("SKU-%d-%s", i, strings.Repeat("é", 100)), Quantity: 2, AvailableQuantity: 1})
	}
	err := CheckCart(&Cart{Lines: lines})
	if err == nil || err.Kind.Name != "ErrorNotEnoughStock" {
		t.Fatalf("got %v, want ErrorNotEnoughStock", err)
	}
	d := err.Description
	if len(d) > 1024 || !utf8.ValidString(d) {
		t.Errorf("description is %d bytes (valid UTF-8 %v), want at most 1024", len(d), utf8.ValidString(d))
	}
	if n := strings.Count(d, "(wanted 2"); n > 10 {
		t.Errorf("names %d SKUs, want at most 10", n)
	}
	for _, part := range strings.Split(strings.TrimPrefix(d, "not enough stock for "), ", ") {
		if sku, _, ok := strings.Cut(part, " (wanted"); ok && len(sku) > 64 {
			t.Errorf("SKU %q is %d bytes, want at most 64", sku, len(sku))
		}
	}
	few := make([]Line, 12)
	for i := range few {
		few[i] = Line{SKU: fmt.Sprint("S", i), Quantity: 1}
	}
	if got := CheckCart(&Cart{Lines: few}).Description; !strings.HasSuffix(got, "S9 (wanted 1, available 0), and 2 more") {
		t.Errorf("got %q, want ten SKUs then \"and 2 more\"", got)
	}
}

// Property: ParseCart never panics; an accepted cart obeys the contract's
// bounds, and parsing is deterministic.
func FuzzParseCart(f *testing.F) {
	f.Add([]byte(cartWith(line, `,"shipping_total":1,"coupons":["a"]`)))
	f.Add([]byte(`{"cart":{"currency":"JPY","line_items":[]}}`))
	f.Add([]byte(`{"cart":{"currency":"USD","line_items":[{"quantity":1e400}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := ParseCart(body, Limits{MaxLineItems: 5, MaxBodyBytes: 4096})
		_, err2 := ParseCart(body, Limits{MaxLineItems: 5, MaxBodyBytes: 4096})
		if (err == nil) != (err2 == nil) {
			t.Fatal("not deterministic")
		}
		if err != nil {
			if err.Kind.Status != 502 {
				t.Fatalf("status %d", err.Kind.Status)
			}
			return
		}
		if len(c.Lines) > 5 || c.Currency.Code == "" || c.ShippingTotal < 0 || c.TaxTotal < 0 {
			t.Fatalf("accepted %+v", c)
		}
		for _, l := range c.Lines {
			if l.Quantity < 1 || l.UnitPrice < 0 || l.AvailableQuantity < 0 || l.SKU == "" || l.Description == "" || l.PlatformLineItemID == "" {
				t.Fatalf("accepted line %+v", l)
			}
		}
	})
}

func TestIsInteger(t *testing.T) {
	for raw, want := range map[string]bool{
		"0": true, "5400": true, "-1": true, "-0": true, "9007199254740992": true,
		"": false, "-": false, "01": false, "-01": false, "1.0": false, "1e3": false, "+1": false, " 1": false,
	} {
		if got := isInteger(raw); got != want {
			t.Errorf("isInteger(%q) = %v, want %v", raw, got, want)
		}
	}
}

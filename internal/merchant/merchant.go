// Package merchant speaks the merchant session-export contract (SPEC §2.5):
// it writes the export request body, classifies the answer's status, and
// parses and checks the cart of a 200 answer.
package merchant

import (
	"github.com/firmly/session-transfer-filter/internal/fmtlite"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/firmly/session-transfer-filter/internal/apierror"
	"github.com/firmly/session-transfer-filter/internal/jsonw"
	"github.com/firmly/session-transfer-filter/internal/money"
	"github.com/firmly/session-transfer-filter/internal/sessionkey"
)

// ExportRequestBody is {"domain", "handle" (the raw JSON as received),
// "cookies": ["name=value", ...]} with the cookies sorted.
func ExportRequestBody(domain, rawHandle string, cookies []sessionkey.Cookie) []byte {
	n := 48 + len(domain) + len(rawHandle)
	for _, c := range cookies {
		n += len(c.Name) + len(c.Value) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, `{"domain":`...)
	b = jsonw.String(b, domain)
	b = append(b, `,"handle":`...)
	b = append(b, rawHandle...)
	b = append(b, `,"cookies":[`...)
	for i, c := range sessionkey.Sorted(cookies) {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonw.String(b, c.Name+"="+c.Value)
	}
	return append(b, "]}"...)
}

// CheckStatus maps the export answer's status to the client's error, or nil
// for a 200. status 0 means the callout was reset (no headers).
func CheckStatus(status int) *apierror.Error {
	switch {
	case status == 200:
		return nil
	case status == 0:
		return apierror.New(apierror.StoreUnavailable, "merchant session export failed: connection reset")
	case status == 401, status == 403, status == 404, status == 409, status == 410, status == 422:
		return apierror.New(apierror.CannotTransferSession, "the external session is invalid or expired")
	case status >= 200 && status < 300:
		return apierror.New(apierror.InvalidMerchantResponse, "merchant session export answered %d, want 200", status)
	case status == 504:
		return apierror.New(apierror.StoreUnavailable, "merchant session export timed out")
	}
	return apierror.New(apierror.StoreUnavailable, "merchant session export answered %d", status)
}

// Cart is a merchant cart that passed every check.
type Cart struct {
	PlatformID    string
	Currency      money.Currency
	Lines         []Line
	ShippingTotal int64
	TaxTotal      int64
	Coupons       []string
}

// Line is one cart line, money in minor units.
type Line struct {
	PlatformLineItemID string
	SKU                string
	BaseSKU            string
	VariantID          string
	Description        string
	VariantDescription string
	Quantity           int64
	UnitPrice          int64
	MSRP               *int64
	AvailableQuantity  int64
	Image              *Image
	RequiresShipping   bool
}

// Image is a line's picture.
type Image struct{ URL, Alt string }

// Limits bound a merchant answer.
type Limits struct {
	MaxLineItems int
	MaxBodyBytes int
}

// isInteger reports whether a JSON number's text is a plain integer:
// -?(0|[1-9][0-9]*), no fraction or exponent.
func isInteger(raw string) bool {
	raw = strings.TrimPrefix(raw, "-")
	if raw == "" || (raw[0] == '0' && len(raw) > 1) {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			return false
		}
	}
	return true
}

type parseErr struct{ msg string }

func bad(format string, args ...any) *parseErr { return &parseErr{fmtlite.Sprintf(format, args...)} }

// ParseCart parses the body of a 200 export answer. Any deviation from the
// contract is ErrorInvalidMerchantResponse naming the field; the body's
// values are never echoed.
func ParseCart(body []byte, lim Limits) (*Cart, *apierror.Error) {
	c, perr := parseCart(body, lim)
	if perr != nil {
		return nil, apierror.New(apierror.InvalidMerchantResponse, "merchant cart: %s", perr.msg)
	}
	return c, nil
}

func parseCart(body []byte, lim Limits) (*Cart, *parseErr) {
	if len(body) > lim.MaxBodyBytes {
		return nil, bad("larger than %d bytes", lim.MaxBodyBytes)
	}
	if !gjson.ValidBytes(body) {
		return nil, bad("not valid JSON")
	}
	cart := gjson.GetBytes(body, "cart")
	if !cart.IsObject() {
		return nil, bad("cart: must be an object")
	}
	// One pass over the cart's members, as over each line's; the first of
	// repeated names wins, as with Get.
	var f [numCartFields]gjson.Result
	var seen [numCartFields]bool
	cart.ForEach(func(k, v gjson.Result) bool {
		if i, ok := fieldIndex(cartFields[:], k.Str); ok && !seen[i] {
			f[i], seen[i] = v, true
		}
		return true
	})
	c := &Cart{}
	var perr *parseErr
	if pid := f[0]; pid.Exists() && pid.Type != gjson.Null {
		if pid.Type != gjson.String {
			return nil, bad("cart.platform_id: must be a string")
		}
		c.PlatformID = pid.Str
	}
	cur := f[1]
	if cur.Type != gjson.String {
		return nil, bad("cart.currency: required string")
	}
	var ok bool
	if c.Currency, ok = money.Lookup(cur.Str); !ok {
		return nil, bad("cart.currency: not an ISO 4217 currency")
	}
	if c.ShippingTotal, perr = amount(f[2], "cart.shipping_total", "", false); perr != nil {
		return nil, perr
	}
	if c.TaxTotal, perr = amount(f[3], "cart.tax_total", "", false); perr != nil {
		return nil, perr
	}
	if cp := f[4]; cp.Exists() && cp.Type != gjson.Null {
		if !cp.IsArray() {
			return nil, bad("cart.coupons: must be an array of strings")
		}
		i := 0
		cp.ForEach(func(_, x gjson.Result) bool {
			if x.Type != gjson.String {
				perr = bad("cart.coupons[%d]: must be a string", i)
				return false
			}
			c.Coupons = append(c.Coupons, x.Str)
			i++
			return true
		})
		if perr != nil {
			return nil, perr
		}
	}
	lines := f[5]
	if !lines.IsArray() {
		return nil, bad("cart.line_items: required array")
	}
	n := 0
	lines.ForEach(func(_, _ gjson.Result) bool { n++; return n <= lim.MaxLineItems })
	if n > lim.MaxLineItems {
		return nil, bad("cart.line_items: more than %d lines", lim.MaxLineItems)
	}
	c.Lines = make([]Line, 0, n)
	lines.ForEach(func(_, it gjson.Result) bool {
		var l Line
		if l, perr = parseLine(it, len(c.Lines)); perr != nil {
			return false
		}
		c.Lines = append(c.Lines, l)
		return true
	})
	if perr != nil {
		return nil, perr
	}
	return c, nil
}

// The members of the cart parseCart reads.
const numCartFields = 6

var cartFields = [numCartFields]string{"platform_id", "currency", "shipping_total", "tax_total", "coupons", "line_items"}

// parseLine reads line number index; its name in an error is built only
// for the error.
func parseLine(it gjson.Result, index int) (Line, *parseErr) {
	key := lineKey(index)
	if !it.IsObject() {
		return Line{}, bad("%s: must be an object", key)
	}
	// One pass over the line's members instead of a Get (a scan from the
	// start) per field; the first of repeated names wins, as with Get.
	var f [numLineFields]gjson.Result
	var seen [numLineFields]bool
	it.ForEach(func(k, v gjson.Result) bool {
		if i, ok := fieldIndex(lineFields[:], k.Str); ok && !seen[i] {
			f[i], seen[i] = v, true
		}
		return true
	})
	l := Line{RequiresShipping: true}
	var perr *parseErr
	str := func(i int, required bool, dst *string) {
		if perr != nil {
			return
		}
		name, v := lineFields[i], f[i]
		if !v.Exists() || v.Type == gjson.Null {
			if required {
				perr = bad("%s.%s: required", key, name)
			}
			return
		}
		switch {
		case v.Type != gjson.String && !required:
			perr = bad("%s.%s: must be a string", key, name)
			return
		case v.Type != gjson.String || (required && v.Str == ""):
			perr = bad("%s.%s: must be a non-empty string", key, name)
			return
		}
		*dst = v.Str
	}
	str(0, true, &l.PlatformLineItemID)
	str(1, true, &l.SKU)
	str(2, true, &l.Description)
	str(3, false, &l.BaseSKU)
	str(4, false, &l.VariantID)
	str(5, false, &l.VariantDescription)
	if perr != nil {
		return Line{}, perr
	}
	if l.Quantity, perr = amount(f[6], key, ".quantity", true); perr != nil {
		return Line{}, perr
	}
	if l.Quantity < 1 {
		return Line{}, bad("%s.quantity: must be at least 1", key)
	}
	if l.UnitPrice, perr = amount(f[7], key, ".unit_price", true); perr != nil {
		return Line{}, perr
	}
	if l.AvailableQuantity, perr = amount(f[8], key, ".available_quantity", true); perr != nil {
		return Line{}, perr
	}
	if m := f[9]; m.Exists() && m.Type != gjson.Null {
		v, perr := amount(m, key, ".msrp", true)
		if perr != nil {
			return Line{}, perr
		}
		l.MSRP = &v
	}
	if img := f[10]; img.Exists() && img.Type != gjson.Null {
		if !img.IsObject() || img.Get("url").Type != gjson.String {
			return Line{}, bad("%s.image: must be an object with a url string", key)
		}
		alt := img.Get("alt")
		if alt.Exists() && alt.Type != gjson.String && alt.Type != gjson.Null {
			return Line{}, bad("%s.image.alt: must be a string", key)
		}
		l.Image = &Image{URL: img.Get("url").Str, Alt: alt.Str}
	}
	if rs := f[11]; rs.Exists() && rs.Type != gjson.Null {
		if !rs.IsBool() {
			return Line{}, bad("%s.requires_shipping: must be true or false", key)
		}
		l.RequiresShipping = rs.Bool()
	}
	return l, nil
}

// lineKey names a line in an error, "cart.line_items[i]", when printed: a
// cart that passes builds no name.
type lineKey int

func (k lineKey) String() string { return "cart.line_items[" + strconv.Itoa(int(k)) + "]" }

// amount reads a non-negative integer no larger than money.Max. Absent is 0
// unless required. key is a string or a lineKey, printed only on error.
func amount(v gjson.Result, key any, field string, required bool) (int64, *parseErr) {
	if !v.Exists() || v.Type == gjson.Null {
		if required {
			return 0, bad("%s%s: required", key, field)
		}
		return 0, nil
	}
	if v.Type != gjson.Number || !isInteger(v.Raw) {
		return 0, bad("%s%s: must be an integer", key, field)
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	if err != nil || n > money.Max {
		return 0, bad("%s%s: too large", key, field)
	}
	if n < 0 {
		return 0, bad("%s%s: must not be negative", key, field)
	}
	return n, nil
}

// The members of a line item parseLine reads.
const numLineFields = 12

var lineFields = [numLineFields]string{
	"platform_line_item_id", "sku", "description", "base_sku", "variant_id", "variant_description",
	"quantity", "unit_price", "available_quantity", "msrp", "image", "requires_shipping",
}

// fieldIndex finds a member's index in fields.
func fieldIndex(fields []string, name string) (int, bool) {
	for i, n := range fields {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

// CheckCart refuses an empty cart and lines wanting more than the live
// stock, naming the short SKUs: at most maxShortSKUs, each cut to
// maxSKUBytes, then "and N more", so the description stays bounded whatever
// the merchant sent.
func CheckCart(c *Cart) *apierror.Error {
	if len(c.Lines) == 0 {
		return apierror.New(apierror.NoLineItem, "the transferred cart is empty")
	}
	var b strings.Builder
	n := 0
	for _, l := range c.Lines {
		if l.Quantity <= l.AvailableQuantity {
			continue
		}
		if n < maxShortSKUs {
			if n > 0 {
				b.WriteString(", ")
			}
			fmtlite.Fprintf(&b, "%s (wanted %d, available %d)", apierror.Cut(l.SKU, maxSKUBytes), l.Quantity, l.AvailableQuantity)
		}
		n++
	}
	if n == 0 {
		return nil
	}
	if n > maxShortSKUs {
		fmtlite.Fprintf(&b, ", and %d more", n-maxShortSKUs)
	}
	return apierror.New(apierror.NotEnoughStock, "not enough stock for %s", b.String())
}

const (
	maxShortSKUs = 10
	maxSKUBytes  = 64
)

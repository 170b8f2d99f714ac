package cart

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/internal/merchant"
	"github.com/firmly/session-transfer-filter/internal/money"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// input is a golden case: the build parameters and the merchant's answer.
type input struct {
	SessionKey           string          `json:"session_key"`
	Domain               string          `json:"domain"`
	DisplayName          string          `json:"display_name"`
	PlatformID           string          `json:"platform_id"`
	PaymentMethodOptions json.RawMessage `json:"payment_method_options"`
	MerchantResponse     json.RawMessage `json:"merchant_response"`
}

func TestGolden(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.input.json")
	if len(inputs) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".input.json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var in input
			if err := json.Unmarshal(raw, &in); err != nil {
				t.Fatal(err)
			}
			mc, perr := merchant.ParseCart(in.MerchantResponse, merchant.Limits{MaxLineItems: 250, MaxBodyBytes: 1 << 20})
			if perr != nil {
				t.Fatal(perr)
			}
			c, err := Build(Input{SessionKey: in.SessionKey, Domain: in.Domain, DisplayName: in.DisplayName, PlatformID: in.PlatformID,
				PaymentMethodOptions: string(in.PaymentMethodOptions), Cart: mc})
			if err != nil {
				t.Fatal(err)
			}
			enc := c.AppendJSON(nil)
			if std, _ := json.Marshal(c); !bytes.Equal(enc, std) {
				t.Fatalf("AppendJSON differs from json.Marshal:\n got %s\nwant %s", enc, std)
			}
			var ind bytes.Buffer
			json.Indent(&ind, enc, "", "  ")
			got := append(ind.Bytes(), '\n')
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				os.WriteFile(golden, got, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file; got:\n%s", name, got)
			}
			checkInvariants(t, c)
		})
	}
}

// checkInvariants: line_price = price × quantity, sub_total = Σ line_price,
// total = sub + shipping + tax + addon, ids unique, shipment holds exactly
// the lines that require shipping.
func checkInvariants(t *testing.T, c *ShoppingCart) {
	var sub int64
	ids := map[string]bool{c.CartID: true}
	var shipped []string
	for _, l := range c.LineItems {
		if l.LinePrice.Number != l.Price.Number*l.Quantity {
			t.Errorf("%s: line price %d != %d × %d", l.SKU, l.LinePrice.Number, l.Price.Number, l.Quantity)
		}
		sub += l.LinePrice.Number
		if ids[l.LineItemID] {
			t.Errorf("duplicate id %s", l.LineItemID)
		}
		ids[l.LineItemID] = true
		if l.RequiresShipping {
			shipped = append(shipped, l.LineItemID)
		}
	}
	if c.SubTotal.Number != sub || c.Total.Number != sub+c.ShippingTotal.Number+c.TaxTotal.Number+c.AddonTotal.Number {
		t.Errorf("totals: sub %d total %d", c.SubTotal.Number, c.Total.Number)
	}
	if len(shipped) == 0 && len(c.Shipments) != 0 || len(shipped) > 0 && (len(c.Shipments) != 1 || strings.Join(c.Shipments[0].LineItemIDs, ",") != strings.Join(shipped, ",")) {
		t.Errorf("shipments %+v, want one holding %v", c.Shipments, shipped)
	}
}

func TestIDsAreStableAndDistinct(t *testing.T) {
	if ID("item", "k", 0) != ID("item", "k", 0) || ID("item", "k", 0) == ID("item", "k", 1) || ID("item", "k", 0) == ID("item", "k2", 0) {
		t.Error("ids not derived as documented")
	}
	if id := ID("cart", "k", 0); len(id) != 5+32 || !strings.HasPrefix(id, "cart_") || strings.ToLower(id) != id {
		t.Errorf("id %q", id)
	}
}

func TestBuildRefusesOverflow(t *testing.T) {
	usd, _ := money.Lookup("USD")
	for _, mc := range []*merchant.Cart{
		{Currency: usd, Lines: []merchant.Line{{SKU: "A", Quantity: 3, UnitPrice: money.Max / 2}}},
		{Currency: usd, Lines: []merchant.Line{{SKU: "A", Quantity: 1, UnitPrice: money.Max}, {SKU: "B", Quantity: 1, UnitPrice: 1}}},
		{Currency: usd, Lines: []merchant.Line{{SKU: "A", Quantity: 1, UnitPrice: money.Max}}, ShippingTotal: 1},
	} {
		if _, err := Build(Input{SessionKey: "k", Cart: mc}); err == nil {
			t.Errorf("overflow accepted: %+v", mc)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	raw, _ := os.ReadFile("testdata/luma.input.json")
	var in input
	json.Unmarshal(raw, &in)
	mc, _ := merchant.ParseCart(in.MerchantResponse, merchant.Limits{MaxLineItems: 250, MaxBodyBytes: 1 << 20})
	b.ReportAllocs()
	for b.Loop() {
		c, _ := Build(Input{SessionKey: in.SessionKey, Domain: in.Domain, Cart: mc, PaymentMethodOptions: "[]"})
		c.AppendJSON(nil)
	}
}

// An id is the hash of kind, key and index as the contract spells it, and
// costs one allocation: the id.
func TestIDIsTheContractsHashInOneAllocation(t *testing.T) {
	key := strings.Repeat("ab", 32)
	h := sha256.Sum256([]byte("item\x00" + key + "\x0012"))
	if got, want := ID("item", key, 12), "item_"+hex.EncodeToString(h[:16]); got != want {
		t.Errorf("ID = %s, want %s", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { ID("item", key, 12) }); n != 1 {
		t.Errorf("%v allocations per id, want 1", n)
	}
}

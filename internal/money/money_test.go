package money

import (
	"math"
	"strconv"
	"testing"
)

func TestDecimal(t *testing.T) {
	for _, c := range []struct {
		code  string
		minor int64
		want  string
	}{
		{"USD", 5400, "54.00"}, {"USD", 5, "0.05"}, {"USD", 0, "0.00"}, {"USD", -13000, "-130.00"},
		{"JPY", 1200, "1200"}, {"KWD", 1250, "1.250"}, {"KWD", 7, "0.007"}, {"CLF", 12345, "1.2345"},
		{"USD", Max, "90071992547409.91"},
	} {
		cur, ok := Lookup(c.code)
		if !ok {
			t.Fatalf("%s unknown", c.code)
		}
		if got := cur.Decimal(c.minor); got != c.want {
			t.Errorf("%d %s: got %s, want %s", c.minor, c.code, got, c.want)
		}
	}
}

func TestLookup(t *testing.T) {
	if c, _ := Lookup("USD"); c.Symbol != "$" || c.Decimals != 2 {
		t.Errorf("USD: %+v", c)
	}
	if c, _ := Lookup("XCD"); c.Symbol != "XCD" {
		t.Errorf("a currency without a symbol shows its code: %+v", c)
	}
	for _, bad := range []string{"usd", "XXX", "US", "", "ZZZ"} {
		if _, ok := Lookup(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestOverflow(t *testing.T) {
	if _, err := Add(Max, 1); err == nil {
		t.Error("Max+1 did not overflow")
	}
	if v, err := Add(Max-1, 1); err != nil || v != Max {
		t.Errorf("Max-1+1 = %d, %v", v, err)
	}
	if _, err := Mul(Max/2+1, 2); err == nil {
		t.Error("product past Max did not overflow")
	}
	if _, err := Mul(math.MaxInt64, 0); err == nil {
		t.Error("an operand past Max was accepted")
	}
}

func FuzzDecimalRoundTrips(f *testing.F) {
	f.Add(int64(5400), 2)
	f.Add(int64(7), 3)
	f.Fuzz(func(t *testing.T, minor int64, dec int) {
		if minor < 0 || minor > Max || dec < 0 || dec > 4 {
			t.Skip()
		}
		s := Currency{Decimals: dec}.Decimal(minor)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("%q is not a number: %v", s, err)
		}
		back := int64(math.Round(f * math.Pow10(dec)))
		if minor < 1<<50 && back != minor {
			t.Errorf("%d with %d decimals wrote %q, which reads back as %d", minor, dec, s, back)
		}
	})
}

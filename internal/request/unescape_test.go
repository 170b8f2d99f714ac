package request

import (
	"net/url"
	"testing"
)

func TestPathUnescape(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"staging.luma.gift", "staging.luma.gift", true},
		{"Luma%2EGift", "Luma.Gift", true},
		{"a%2fb%2Fc", "a/b/c", true},
		{"a+b", "a+b", true},
		{"%", "", false},
		{"%4", "", false},
		{"%zz", "", false},
		{"ok%41%", "", false},
	} {
		got, ok := pathUnescape(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("pathUnescape(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// Property: the same answer as net/url.PathUnescape, which it replaces.
func FuzzPathUnescapeMatchesNetURL(f *testing.F) {
	f.Add("www.Luma%2egift")
	f.Add("%%41")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := url.PathUnescape(s)
		got, ok := pathUnescape(s)
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("pathUnescape(%q) = %q, %v; net/url gives %q, %v", s, got, ok, want, err)
		}
	})
}

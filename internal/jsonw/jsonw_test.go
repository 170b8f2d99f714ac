package jsonw

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestStringKnownAnswers(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain ASCII is written as is", "Hero Hoodie", `"Hero Hoodie"`},
		{"the empty string is two quotes", "", `""`},
		{"quote and backslash are escaped", `a"b\c`, `"a\"b\\c"`},
		{"HTML-significant bytes are escaped", "<a href='x'>&</a>", `"\u003ca href='x'\u003e\u0026\u003c/a\u003e"`},
		{"short escapes for control characters that have one", "\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"other control characters are \\u00XX", "\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"DEL is written as is", "\x7f", "\"\x7f\""},
		{"multi-byte UTF-8 is written as is", "Grün 日本 💳", `"Grün 日本 💳"`},
		{"line and paragraph separators are escaped", "a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"invalid UTF-8 becomes U+FFFD", "a\xffb\xc3", `"a\ufffdb\ufffd"`},
		{"a surrogate half encoded in UTF-8 is invalid", "\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := string(String(nil, c.in)); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
			std, _ := json.Marshal(c.in)
			if string(std) != c.want {
				t.Errorf("encoding/json writes %s, the table says %s", std, c.want)
			}
		})
	}
}

func TestAppendsToExistingBytes(t *testing.T) {
	got := string(Bool(Int(Key([]byte("{"), "n"), -42), true))
	if want := `{"n":-42true`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got, want := string(Field([]byte("{"), `"sku":`, "<a>")), `{"sku":"\u003ca\u003e"`; got != want {
		t.Errorf("Field: got %s, want %s", got, want)
	}
}

func FuzzStringMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "<>&", "\u2028\u2029", "\xff\xfe", "\x00\t\"\\", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := String(nil, s); string(got) != string(want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	})
}

func FuzzCompactHTMLMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`[]`, ` [ {"type" : "Credit Card"} ]`, "[\"<b>&</b>\", \"\u2028\u2029\"]",
		"{\"a\" :\t[1, 2.5e3, null, true, \"\\\" \\\\\"]\r\n}", `"\u003c"`, "\"\xe2\x80\"", `"日本 語"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			t.Skip()
		}
		var c, want bytes.Buffer
		if err := json.Compact(&c, []byte(s)); err != nil {
			t.Fatal(err)
		}
		json.HTMLEscape(&want, c.Bytes())
		if got := CompactHTML([]byte("x"), []byte(s)); string(got) != "x"+want.String() {
			t.Errorf("CompactHTML(%q) = %s, want x%s", s, got, want.String())
		}
	})
}

package pretty

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestUgly(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty input stays empty", "", ""},
		{"whitespace between tokens is removed", " {\n\t\"a\" : [ 1 , 2 ] ,\r\n \"b\":null } ", `{"a":[1,2],"b":null}`},
		{"whitespace inside strings is kept", `{ "a b" : " x\ty " }`, `{"a b":" x\ty "}`},
		{"escaped quotes do not end a string", `[ "a\" ]" , 1 ]`, `["a\" ]",1]`},
		{"an unterminated string is kept to the end", `[ "abc  `, `["abc  `},
		{"scalars pass through", ` 12.5e3 `, `12.5e3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Ugly([]byte(tt.in))); got != tt.want {
				t.Errorf("Ugly(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPrettyOptions(t *testing.T) {
	tests := []struct {
		name, in string
		opts     *Options
		want     string
	}{
		{"empty input gives empty output", "  ", nil, ""},
		{"a scalar gets a trailing newline", `true`, nil, "true\n"},
		{"empty containers stay on one line", `{ "a" : { } , "b":[ ] }`, nil, "{\n  \"a\": {},\n  \"b\": []\n}\n"},
		{"members and elements get one line each", `{"a":[1,{"b":2}],"c":"x"}`, nil,
			"{\n  \"a\": [\n    1,\n    {\n      \"b\": 2\n    }\n  ],\n  \"c\": \"x\"\n}\n"},
		{"prefix starts every line and indent is used per level", `[1,[2]]`, &Options{Prefix: "> ", Indent: "\t"},
			"> [\n> \t1,\n> \t[\n> \t\t2\n> \t]\n> ]\n"},
		{"keys are left in input order by default", `{"b":1,"a":2}`, nil, "{\n  \"b\": 1,\n  \"a\": 2\n}\n"},
		{"SortKeys orders members, nested objects too", `{"b":{"z":1,"y":2},"a":[{"d":1,"c":2}]}`, &Options{Indent: " ", SortKeys: true},
			"{\n \"a\": [\n  {\n   \"c\": 2,\n   \"d\": 1\n  }\n ],\n \"b\": {\n  \"y\": 2,\n  \"z\": 1\n }\n}\n"},
		{"SortKeys compares decoded keys", `{"\u0062":1,"a":2,"\ud83d\ude00":3,"\u00e9":4}`, &Options{SortKeys: true},
			"{\n\"a\": 2,\n\"\\u0062\": 1,\n\"\\u00e9\": 4,\n\"\\ud83d\\ude00\": 3\n}\n"},
		{"SortKeys keeps duplicate keys in input order", `{"a":2,"a":1}`, &Options{SortKeys: true}, "{\n\"a\": 2,\n\"a\": 1\n}\n"},
		{"several top-level values go on separate lines", `1 {"a":1}`, nil, "1\n{\n  \"a\": 1\n}\n"},
		{"an unclosed container is left open", `{"a":[1`, nil, "{\n  \"a\": [\n    1\n"},
		{"a stray closer is kept", `]`, nil, "]\n"},
		{"a trailing comma is kept and sorting skipped", `{"b":1,"a":2,}`, &Options{SortKeys: true}, "{\n\"b\": 1,\n\"a\": 2,\n}\n"},
		{"values without a separator stay apart", `[1 2]`, nil, "[\n  1 2\n]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(PrettyOptions([]byte(tt.in), tt.opts)); got != tt.want {
				t.Errorf("PrettyOptions(%q) =\n%q\nwant\n%q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPrettyDeepNesting(t *testing.T) {
	t.Run("containers deeper than the bound are printed compactly and still sorted", func(t *testing.T) {
		in := strings.Repeat("[", maxIndentDepth) + `{"b":[1, 2],"a":{}}` + strings.Repeat("]", maxIndentDepth)
		got := string(PrettyOptions([]byte(in), &Options{SortKeys: true}))
		want := `{"a":{},"b":[1,2]}`
		if !strings.Contains(got, "\n"+want+"\n") {
			t.Errorf("got %q, want the innermost object on one line as %q", got, want)
		}
	})
	t.Run("unclosed deep nesting does not expand quadratically", func(t *testing.T) {
		in := []byte(strings.Repeat("[", 100_000))
		out := Pretty(in)
		// Every bracket costs at most a line break, the indentation bound, and itself.
		if limit := len(in) * (1 + maxIndentDepth*len(DefaultOptions.Indent) + 1); len(out) > limit {
			t.Errorf("got %d bytes of output, want at most %d", len(out), limit)
		}
	})
}

func TestPrettyUsesDefaultOptions(t *testing.T) {
	in := []byte(`{"b":[1,2],"a":{}}`)
	if got, want := string(Pretty(in)), string(PrettyOptions(in, DefaultOptions)); got != want {
		t.Errorf("Pretty = %q, want %q", got, want)
	}
	if want := (Options{Width: 80, Prefix: "", Indent: "  ", SortKeys: false}); *DefaultOptions != want {
		t.Errorf("DefaultOptions = %+v, want %+v", *DefaultOptions, want)
	}
}

func TestDecodeString(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain text", `"abc"`, "abc"},
		{"simple escapes", `"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t"},
		{"a BMP escape", `"\u00e9\u20AC"`, "é€"},
		{"a surrogate pair", `"\ud83d\ude00"`, "😀"},
		{"a lone high surrogate", `"\ud83dx"`, "\uFFFDx"},
		{"a lone low surrogate", `"\ude00"`, "\uFFFD"},
		{"a high surrogate before a non-surrogate escape", `"\ud83d\u0041"`, "\uFFFDA"},
		{"invalid UTF-8", "\"a\xffb\"", "a\uFFFDb"},
		{"a malformed \\u escape is kept", `"\u12x4"`, `\u12x4`},
		{"a trailing backslash is kept", `"a\`, `a\`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(decodeString([]byte(tt.in))); got != tt.want {
				t.Errorf("decodeString(%s) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// decoded unmarshals valid JSON for comparison, numbers as written (1E700 is valid JSON).
func decoded(t *testing.T, what string, b []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || !json.Valid(b) {
		t.Fatalf("%s is not valid JSON: %v\n%q", what, err, b)
	}
	return v
}

// checkSorted walks b with encoding/json's tokenizer and fails if any object's keys are out
// of order (duplicates allowed).
func checkSorted(t *testing.T, b []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	// keys[i] holds the keys seen so far in the i-th open container, nil for arrays.
	type level struct {
		obj     bool
		keys    []string
		wantKey bool
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.wantKey {
			if k, ok := tok.(string); ok {
				top.keys = append(top.keys, k)
				top.wantKey = false
				continue
			}
		}
		if top != nil && top.obj {
			top.wantKey = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &level{obj: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &level{})
		case json.Delim('}'), json.Delim(']'):
			if !slices.IsSorted(top.keys) {
				t.Fatalf("object keys %q are not sorted in\n%s", top.keys, b)
			}
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].obj {
				stack[len(stack)-1].wantKey = true
			}
		}
	}
}

var fuzzSeeds = []string{
	``, `null`, `"a\"b"`, `[1,2,[3,{"x":[]}]]`, `{"b":1,"a":{"d":[true,false],"c":null}}`,
	`{"\u00e9":1,"e":2,"\ud83d\ude00":3,"\uffff":4}`, ` { "a" : "b c" } `, `{"a":1,"a":2}`,
	`[{"z":{"y":{"x":1,"w":2}}}]`, strings.Repeat(`{"b":[`, 40) + strings.Repeat(`]}`, 40), `{"a":[1 2],}`, `]]{{`, `"\ud800"`, "{\"\xff\":1,\"a\":2}",
}

// FuzzPretty checks that formatting never panics and, for valid JSON, keeps its meaning:
// Ugly and Pretty output decode to the same value, Ugly(Pretty(x)) == Ugly(x), and SortKeys
// output has every object's members in key order.
func FuzzPretty(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ugly := Ugly(in)
		pretty := Pretty(in)
		sorted := PrettyOptions(in, &Options{Prefix: "\t", Indent: " ", SortKeys: true})
		if !json.Valid(in) {
			return
		}
		want := decoded(t, "input", in)
		for _, out := range []struct {
			what string
			b    []byte
		}{{"Ugly", ugly}, {"Pretty", pretty}, {"sorted Pretty", sorted}} {
			if got := decoded(t, out.what, out.b); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s changed the value: got %#v, want %#v", out.what, got, want)
			}
		}
		if got := Ugly(pretty); !bytes.Equal(got, ugly) {
			t.Fatalf("Ugly(Pretty(x)) = %q, want Ugly(x) = %q", got, ugly)
		}
		checkSorted(t, sorted)
	})
}

// FuzzDecodeString checks key decoding against encoding/json for every valid JSON string.
func FuzzDecodeString(f *testing.F) {
	for _, s := range []string{`"a"`, `"\u00e9"`, `"\ud83d\ude00"`, `"\ud800\u0041"`, "\"\xff\"", `"\udc00\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var want string
		// Only a lone string token is a key; Unmarshal would also accept surrounding spaces.
		if len(in) < 2 || in[0] != '"' || in[len(in)-1] != '"' || json.Unmarshal(in, &want) != nil {
			return
		}
		got := decodeString(in)
		if string(got) != want {
			t.Fatalf("decodeString(%q) = %q, want %q", in, got, want)
		}
	})
}

package strictjson

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

var body = Options{MaxDepth: 32, Unchecked: []string{"handle", "merchantData"}}

func nest(open, close string, n int, inner string) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		want      Result
	}{
		{"empty object", `{}`, Result{}},
		{"whitespace around", " \t\r\n{ \"a\" : [ 1 , -2.5e+3 , true , false , null , \"x\" ] }\n", Result{}},
		{"escapes", `{"a":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}`, Result{}},
		{"numbers", `{"a":[0,-0,1.5,1e5,1E-5,-12.34e+56]}`, Result{}},
		{"not UTF-8", "{\"a\":\"\xff\"}", Result{Kind: NotUTF8}},
		{"empty", ``, Result{Kind: Syntax}},
		{"trailing data", `{}{}`, Result{Kind: Syntax}},
		{"trailing comma", `{"a":1,}`, Result{Kind: Syntax}},
		{"array trailing comma", `{"a":[1,]}`, Result{Kind: Syntax}},
		{"missing colon", `{"a" 1}`, Result{Kind: Syntax}},
		{"unquoted key", `{a:1}`, Result{Kind: Syntax}},
		{"single quotes", `{'a':1}`, Result{Kind: Syntax}},
		{"leading zero", `{"a":01}`, Result{Kind: Syntax}},
		{"bare minus", `{"a":-}`, Result{Kind: Syntax}},
		{"dot without digits", `{"a":1.}`, Result{Kind: Syntax}},
		{"exponent without digits", `{"a":1e}`, Result{Kind: Syntax}},
		{"plus sign", `{"a":+1}`, Result{Kind: Syntax}},
		{"raw control in a string", "{\"a\":\"\x01\"}", Result{Kind: Syntax}},
		{"bad escape", `{"a":"\x"}`, Result{Kind: Syntax}},
		{"short unicode escape", `{"a":"\u12"}`, Result{Kind: Syntax}},
		{"unterminated string", `{"a":"x}`, Result{Kind: Syntax}},
		{"truncated literal", `{"a":tru}`, Result{Kind: Syntax}},
		{"mismatched close", `{"a":[1}`, Result{Kind: Syntax}},
		{"unclosed", `{"a":{"b":1}`, Result{Kind: Syntax}},
		{"an array", `[{"a":1,"a":2}]`, Result{Kind: NotObject}},
		{"a string", `"x"`, Result{Kind: NotObject}},
		{"depth 32 is allowed", `{"x":` + nest("[", "]", 31, "") + `}`, Result{}},
		{"depth 33 is not", `{"x":` + nest("[", "]", 32, "") + `}`, Result{Kind: TooDeep}},
		{"depth counts objects", nest(`{"a":`, `}`, 32, "1"), Result{}},
		{"depth 33 of objects", nest(`{"a":`, `}`, 33, "1"), Result{Kind: TooDeep}},
		{"depth inside merchantData too", `{"handle":{"merchantData":` + nest("[", "]", 31, "") + `}}`, Result{Kind: TooDeep}},
		{"deep before a syntax error", `{"x":` + nest("[", "]", 40, "") + `,}`, Result{Kind: TooDeep}},
		{"syntax error before deep", `{"x":1,,"y":` + nest("[", "]", 40, "") + `}`, Result{Kind: Syntax}},
		{"syntax error after a duplicate", `{"a":1,"a":2,}`, Result{Kind: Syntax}},
		{"duplicate", `{"a":1,"a":2}`, Result{Kind: Duplicate, Path: "a"}},
		{"duplicate spelled with an escape", `{"a":1,"\u0061":2}`, Result{Kind: Duplicate, Path: "a"}},
		{"duplicate nested", `{"b":[{"c":1},{"c":1,"c":2}]}`, Result{Kind: Duplicate, Path: "b[1].c"}},
		{"first in document order", `{"x":{"y":1,"y":2},"x":3}`, Result{Kind: Duplicate, Path: "x.y"}},
		{"duplicate after eight names", `{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k3":0}`, Result{Kind: Duplicate, Path: "k3"}},
		{"the ninth name repeated", `{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":0,"k9":0}`, Result{Kind: Duplicate, Path: "k9"}},
		{"same names in sibling objects", `{"a":[{"x":1,"y":2},{"x":1,"y":2}],"b":{"x":1}}`, Result{}},
		{"same names in sibling large objects", `{"a":[` + big("k", 20) + `,` + big("k", 20) + `]}`, Result{}},
		{"merchantData may repeat names", `{"handle":{"merchantData":{"a":1,"a":2,"b":{"c":1,"c":1}}}}`, Result{}},
		{"merchantData spelled with an escape", `{"handle":{"merchant\u0044ata":{"a":1,"a":2}}}`, Result{}},
		{"handle itself may not", `{"handle":{"merchantData":{},"merchantData":{}}}`, Result{Kind: Duplicate, Path: "handle.merchantData"}},
		{"a dotted top-level name is not merchantData", `{"handle.merchantData":{"x":1,"x":1}}`, Result{Kind: Duplicate, Path: "handle.merchantData.x"}},
		{"merchantData elsewhere is checked", `{"x":{"merchantData":{"a":1,"a":2}}}`, Result{Kind: Duplicate, Path: "x.merchantData.a"}},
		{"an array merchantData is checked", `{"handle":{"merchantData":[{"a":1,"a":2}]}}`, Result{Kind: Duplicate, Path: "handle.merchantData[0].a"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Check([]byte(c.doc), body); got != c.want {
				t.Errorf("Check(%.80s) = %+v, want %+v", c.doc, got, c.want)
			}
		})
	}
}

func big(prefix string, n int) string {
	var parts []string
	for i := 0; i < n; i++ {
		parts = append(parts, fmt.Sprintf("%q:%d", fmt.Sprint(prefix, i), i))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// reference is the rules written the slow, obvious way: gjson's validator,
// a recursive depth count, and a recursive duplicate walk that builds
// every member's path.
func reference(doc string, o Options) Result {
	switch {
	case !gjsonValidUTF8(doc):
		return Result{Kind: NotUTF8}
	case !gjson.Valid(doc) || !json.Valid([]byte(doc)):
		return Result{Kind: Syntax}
	}
	v := gjson.Parse(doc)
	if depth(v) > o.MaxDepth {
		return Result{Kind: TooDeep}
	}
	if !v.IsObject() {
		return Result{Kind: NotObject}
	}
	if p, ok := refDuplicate(v, nil, o.Unchecked); ok {
		return Result{Kind: Duplicate, Path: p}
	}
	return Result{}
}

func gjsonValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func depth(v gjson.Result) int {
	if !v.IsObject() && !v.IsArray() {
		return 0
	}
	d := 0
	v.ForEach(func(_, x gjson.Result) bool { d = max(d, depth(x)); return true })
	return d + 1
}

type seg struct {
	key   string
	index int // -1 for a member
}

func render(path []seg) string {
	var b strings.Builder
	for _, s := range path {
		if s.index >= 0 {
			fmt.Fprintf(&b, "[%d]", s.index)
		} else {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		}
	}
	return b.String()
}

func isUnchecked(path []seg, unchecked []string) bool {
	if unchecked == nil || len(path) != len(unchecked) {
		return false
	}
	for i, s := range path {
		if s.index >= 0 || s.key != unchecked[i] {
			return false
		}
	}
	return true
}

func refDuplicate(v gjson.Result, path []seg, unchecked []string) (string, bool) {
	switch {
	case v.IsObject():
		if isUnchecked(path, unchecked) {
			return "", false
		}
		seen := map[string]bool{}
		var out string
		found := false
		v.ForEach(func(k, x gjson.Result) bool {
			p := append(append([]seg(nil), path...), seg{k.Str, -1})
			if seen[k.Str] {
				out, found = render(p), true
				return false
			}
			seen[k.Str] = true
			out, found = refDuplicate(x, p, unchecked)
			return !found
		})
		return out, found
	case v.IsArray():
		var out string
		found := false
		i := 0
		v.ForEach(func(_, x gjson.Result) bool {
			out, found = refDuplicate(x, append(append([]seg(nil), path...), seg{"", i}), unchecked)
			i++
			return !found
		})
		return out, found
	}
	return "", false
}

// FuzzCheckMatchesReference holds the one-pass check to the obvious one on
// every document, and checks it never panics.
func FuzzCheckMatchesReference(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"a":2}`, `{"handle":{"merchantData":{"a":1,"a":2}},"b":[{"c":1},{"c":1,"c":2}]}`,
		`{"handle.merchantData":{"x":1,"x":1}}`, `[[{"":1,"":2}]]`, `{"a":{"b":{"c":[1,{"d":0,"d":1}]}}}`,
		`{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k3":0}`, `{"\u0061":1,"a":2}`,
		`{"x":` + nest("[", "]", 31, "") + `}`, `{"a":"\uD800","\uD800":1}`, `{"a":1e5,"b":-0.5}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		o := body
		if len(doc) > 0 && doc[0] == ' ' {
			o = Options{MaxDepth: 4} // also shallow bounds, without an unchecked path
		}
		got := Check([]byte(doc), o)
		want := reference(doc, o)
		// A document both too deep and invalid may be either; the one-pass
		// check stops at the first it meets.
		if (got.Kind == TooDeep || got.Kind == Syntax) && (want.Kind == TooDeep || want.Kind == Syntax) {
			return
		}
		if got != want {
			t.Fatalf("Check(%q) = %+v, want %+v", doc, got, want)
		}
	})
}

// BenchmarkCheck runs the worst shapes of about 64 KiB natively; compare
// the shapes' MB/s within one run (the in-module figures are
// e2e's BenchmarkBodyShapesInModule).
func BenchmarkCheck(b *testing.B) {
	var keys []string
	for i := 0; i < 6500; i++ {
		keys = append(keys, fmt.Sprintf(`"k%05d":0`, i))
	}
	for _, c := range []struct{ name, doc string }{
		{"long escaped string", `{"handle":"x","x":"` + strings.Repeat(`\u00e9`, 10900) + `"}`},
		{"depth 11 repeated", `{"handle":"x","x":[` + strings.Repeat(nest("[", "]", 10, "")+",", 3100) + `1]}`},
		{"nested arrays", `{"x":` + nest("[", "]", 32000, "") + `}`},
		{"many keys", `{"handle":"x","x":{` + strings.Join(keys, ",") + `}}`},
		{"objects of 9 keys", `{"handle":"x","x":[` + strings.Repeat(`{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0},`, 1150) + `1]}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.doc)))
			doc := []byte(c.doc)
			for b.Loop() {
				Check(doc, body)
			}
		})
	}
}

package request

import (
	"fmt"
	"testing"

	"github.com/tidwall/gjson"
)

// referenceDuplicateKey is duplicateKey as it was written first (every
// member's path built as it goes); the fuzzer holds the two together.
func referenceDuplicateKey(v gjson.Result, path string) (string, bool) {
	switch {
	case v.IsObject():
		if path == "handle.merchantData" {
			return "", false
		}
		seen := map[string]bool{}
		var dupPath string
		found := false
		v.ForEach(func(k, val gjson.Result) bool {
			p := k.Str
			if path != "" {
				p = path + "." + k.Str
			}
			if seen[k.Str] {
				dupPath, found = p, true
				return false
			}
			seen[k.Str] = true
			if dp, ok := referenceDuplicateKey(val, p); ok {
				dupPath, found = dp, true
				return false
			}
			return true
		})
		return dupPath, found
	case v.IsArray():
		var dupPath string
		found := false
		i := 0
		v.ForEach(func(_, val gjson.Result) bool {
			if dp, ok := referenceDuplicateKey(val, fmt.Sprintf("%s[%d]", path, i)); ok {
				dupPath, found = dp, true
				return false
			}
			i++
			return true
		})
		return dupPath, found
	}
	return "", false
}

func FuzzDuplicateKeyMatchesReference(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"a":2}`, `{"handle":{"merchantData":{"a":1,"a":2}},"b":[{"c":1},{"c":1,"c":2}]}`,
		`{"handle.merchantData":{"x":1,"x":1}}`, `[[{"":1,"":2}]]`, `{"a":{"b":{"c":[1,{"d":0,"d":1}]}}}`,
		`{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k3":0}`, `{"\u0061":1,"a":2}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !gjson.Valid(s) {
			t.Skip()
		}
		v := gjson.Parse(s)
		gotPath, got := duplicateKey(v, "")
		wantPath, want := referenceDuplicateKey(v, "")
		if got != want || gotPath != wantPath {
			t.Errorf("duplicateKey(%s) = %q, %v; want %q, %v", s, gotPath, got, wantPath, want)
		}
	})
}

package pretty_test

import (
	"testing"

	"github.com/tidwall/gjson"
)

// TestGjsonModifiers checks that gjson's @pretty and @ugly modifiers work through this
// replacement (gjson keeps only whitespace in indent and prefix): inside this module, gjson's import of github.com/tidwall/pretty resolves to it.
func TestGjsonModifiers(t *testing.T) {
	const doc = `{ "b" : [ 1, 2 ], "a" : { "x" : "y z" } }`
	tests := []struct{ name, path, want string }{
		{"@ugly removes whitespace", "@ugly", `{"b":[1,2],"a":{"x":"y z"}}`},
		{"@pretty indents with the defaults", "@pretty",
			"{\n  \"b\": [\n    1,\n    2\n  ],\n  \"a\": {\n    \"x\": \"y z\"\n  }\n}\n"},
		{"@pretty takes sortKeys, indent and prefix", `@pretty:{"sortKeys":true,"indent":"\t","prefix":" ","width":10}`,
			// gjson parses the result, which drops the first line's whitespace prefix.
			"{\n \t\"a\": {\n \t\t\"x\": \"y z\"\n \t},\n \t\"b\": [\n \t\t1,\n \t\t2\n \t]\n }\n"},
		{"a modifier applies to a path result", "a|@ugly", `{"x":"y z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gjson.Get(doc, tt.path).Raw; got != tt.want {
				t.Errorf("gjson.Get(doc, %q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

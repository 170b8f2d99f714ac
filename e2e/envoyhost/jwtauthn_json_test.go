package envoyhost

import "testing"

// jwt_authn parses a token's header and payload with protobuf's JSON
// parser; these are the inputs where encoding/json alone would differ.
func TestStrictJSON(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{`{"a":1,"b":[1,{"c":2}]}`, true},
		{`{"a":1,"a":1}`, false},
		{`{"x":{"a":[{"b":1,"b":2}]}}`, false},
		{`{"a":{"b":1},"b":{"b":1}}`, true}, // the same name in different objects
		{"{\"a\":\"\xff\"}", false},
		{`{"a":1} {}`, false},
		{`{"a":`, false},
	} {
		if err := strictJSON([]byte(c.in)); (err == nil) != c.ok {
			t.Errorf("%q: %v, want ok %v", c.in, err, c.ok)
		}
	}
}

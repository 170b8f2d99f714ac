package tracecontext

import (
	"github.com/firmly/session-transfer-filter/internal/headermap"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const (
	tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ts = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
)

func TestPick(t *testing.T) {
	all := [][2]string{
		{":path", "/x"},
		{"traceparent", tp}, {"tracestate", ts},
		{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"},
		{"x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"}, {"x-b3-spanid", "e457b5a2e4d86bd1"},
		{"x-b3-parentspanid", "05e3ac9a4f6e3b90"}, {"x-b3-sampled", "1"}, {"x-b3-flags", "1"},
		{"x-cloud-trace-context", "105445aa7843bc8bf206b12000100000/1;o=1"},
		{"x-request-id", "r-1"},
	}
	for _, c := range []struct {
		name string
		in   [][2]string
		want [][2]string
	}{
		{"none", [][2]string{{":path", "/x"}}, nil},
		{"every one, in the order of Names", all, all[1:10]},
		{"a repeated header is dropped, the others kept",
			[][2]string{{"traceparent", tp}, {"tracestate", "a=1"}, {"tracestate", "b=2"}},
			[][2]string{{"traceparent", tp}}},
		{"a repeated header is dropped even when both copies are equal",
			[][2]string{{"b3", "1"}, {"b3", "1"}}, nil},
		{"uppercase hex in traceparent is dropped, not lower-cased",
			[][2]string{{"traceparent", strings.ToUpper(tp)}, {"tracestate", ts}},
			[][2]string{{"tracestate", ts}}},
		{"a control character drops the header",
			[][2]string{{"x-b3-traceid", "abc\r\nx-evil: 1"}, {"x-b3-spanid", "e457b5a2e4d86bd1"}},
			[][2]string{{"x-b3-spanid", "e457b5a2e4d86bd1"}}},
		{"non-ASCII drops the header", [][2]string{{"x-cloud-trace-context", "caf\u00e9/1"}}, nil},
		{"an empty value is not copied", [][2]string{{"tracestate", ""}}, nil},
		{"512 bytes are copied, 513 are not",
			[][2]string{{"tracestate", strings.Repeat("a", 512)}, {"b3", strings.Repeat("b", 513)}},
			[][2]string{{"tracestate", strings.Repeat("a", 512)}}},
		{"other headers are never copied", [][2]string{{"x-b3-other", "1"}, {"grpc-trace-bin", "AAA"}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Pick(headermap.Pairs(c.in)); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Pick = %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestValidTraceparent(t *testing.T) {
	for _, c := range []struct {
		v    string
		want bool
	}{
		{tp, true},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},   // version ff
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},   // zero trace id
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},   // zero parent id
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", false}, // a later version's extra field
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false},   // upper case
		{"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", false},    // short trace id
		{"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},   // separator
		{" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},  // space
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", false},   // not hex
		{"", false},
	} {
		if got := Valid("traceparent", c.v); got != c.want {
			t.Errorf("Valid(traceparent, %q) = %v, want %v", c.v, got, c.want)
		}
	}
}

var traceparentRE = regexp.MustCompile(`^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)

// FuzzValid checks the hand-written matcher against SPEC §2.5's regular
// expression and the printable-ASCII rule.
func FuzzValid(f *testing.F) {
	for _, s := range []string{tp, ts, "", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a\x7f", "\u00e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		want := traceparentRE.MatchString(v) && v[:2] != "ff" &&
			v[3:35] != strings.Repeat("0", 32) && v[36:52] != strings.Repeat("0", 16)
		if got := Valid("traceparent", v); got != want {
			t.Fatalf("Valid(traceparent, %q) = %v, want %v", v, got, want)
		}
		printable := len(v) > 0 && len(v) <= MaxValueBytes && strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }) < 0
		if got := Valid("tracestate", v); got != printable {
			t.Fatalf("Valid(tracestate, %q) = %v, want %v", v, got, printable)
		}
	})
}

// FuzzPick: what Pick copies is a subset of the input, each header once,
// byte for byte, and well formed; a header present once and valid is
// always copied.
func FuzzPick(f *testing.F) {
	f.Add("traceparent", tp, "tracestate", ts, "b3", "1")
	f.Add("b3", "x", "b3", "y", "x-b3-sampled", "\n")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, n3, v3 string) {
		in := [][2]string{{n1, v1}, {n2, v2}, {n3, v3}}
		got := Pick(headermap.Pairs(in))
		seen := map[string]bool{}
		for _, kv := range got {
			if seen[kv[0]] {
				t.Fatalf("%q copied twice: %q", kv[0], got)
			}
			seen[kv[0]] = true
			if !Valid(kv[0], kv[1]) || index(kv[0]) < 0 {
				t.Fatalf("copied %q, which is not a well-formed trace header", kv)
			}
			n := 0
			for _, x := range in {
				if x[0] == kv[0] {
					n++
					if x[1] != kv[1] {
						t.Fatalf("copied %q, the input had %q", kv, x)
					}
				}
			}
			if n != 1 {
				t.Fatalf("copied %q, present %d times", kv, n)
			}
		}
		for _, x := range in {
			n := 0
			for _, y := range in {
				if y[0] == x[0] {
					n++
				}
			}
			if n == 1 && index(x[0]) >= 0 && Valid(x[0], x[1]) && !seen[x[0]] {
				t.Fatalf("%q is present once and valid but was not copied", x)
			}
		}
	})
}

// index is the position of name in Names, or -1.
func index(name string) int {
	// Cheap rejection first: every trace header starts with t, b or x.
	if name == "" || (name[0] != 't' && name[0] != 'b' && name[0] != 'x') {
		return -1
	}
	for i, n := range Names {
		if n == name {
			return i
		}
	}
	return -1
}

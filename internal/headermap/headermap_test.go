package headermap

import (
	"encoding/binary"
	"slices"
	"testing"
)

func TestGetFindsFirstValueAndCount(t *testing.T) {
	pairs := [][2]string{
		{":method", "POST"}, {":path", "/x"}, {"x-firmly-authorization", "a"},
		{"content-type", "application/json"}, {"x-firmly-authorization", "b"}, {"empty", ""},
		{"x-firmly-authorizatio", "prefix"}, {"x-firmly-authorizationx", "longer"},
	}
	m := Serialize(pairs)
	for _, tc := range []struct {
		name, value string
		count       int
	}{
		{":method", "POST", 1},
		{"x-firmly-authorization", "a", 2},
		{"content-type", "application/json", 1},
		{"empty", "", 1},
		{"missing", "", 0},
		{"", "", 0},
		{"X-Firmly-Authorization", "", 0}, // keys are lower-case; no folding
	} {
		v, n := m.Get(tc.name)
		if v != tc.value || n != tc.count {
			t.Errorf("Map.Get(%q) = %q, %d; want %q, %d", tc.name, v, n, tc.value, tc.count)
		}
		if pv, pn := Pairs(pairs).Get(tc.name); pv != v || pn != n {
			t.Errorf("Pairs.Get(%q) = %q, %d; Map.Get %q, %d", tc.name, pv, pn, v, n)
		}
	}
}

func TestGetOnEmptyAndMalformedMaps(t *testing.T) {
	good := Serialize([][2]string{{"a", "1"}, {"b", "2"}})
	huge := append(Map(nil), good...)
	binary.LittleEndian.PutUint32(huge, 1<<30) // a count far beyond the data
	longKey := append(Map(nil), good...)
	binary.LittleEndian.PutUint32(longKey[12:], 1<<31) // b's key runs past the end
	for _, tc := range []struct {
		name    string
		m       Map
		a, b    int
		comment string
	}{
		{"nil", nil, 0, 0, ""},
		{"short", Map{1, 0}, 0, 0, ""},
		{"no pairs", Serialize(nil), 0, 0, ""},
		{"count too large", huge, 0, 0, "the lengths are read from where the data is"},
		{"truncated", good[:len(good)-3], 1, 0, "a's pair is whole"},
		{"key past the end", longKey, 1, 0, ""},
	} {
		_, a := tc.m.Get("a")
		_, b := tc.m.Get("b")
		if a != tc.a || b != tc.b {
			t.Errorf("%s: counts a=%d b=%d, want %d %d %s", tc.name, a, b, tc.a, tc.b, tc.comment)
		}
	}
}

// Get builds a string for the value it returns and for nothing else.
func TestGetAllocatesOnlyTheValue(t *testing.T) {
	var pairs [][2]string
	for _, k := range []string{"user-agent", "accept", "accept-language", "accept-encoding", "cookie", "x-forwarded-for", "x-forwarded-proto", "content-type"} {
		pairs = append(pairs, [2]string{k, "some value of a header"})
	}
	m := Serialize(pairs)
	if n := testing.AllocsPerRun(100, func() { m.Get("x-firmly-authorization") }); n != 0 {
		t.Errorf("a missing name: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { m.Get("content-type") }); n != 1 {
		t.Errorf("a present name: %v allocations, want 1 (its value)", n)
	}
}

// Any bytes: Get never panics, and on a well-formed map agrees with Pairs.
func FuzzGet(f *testing.F) {
	f.Add([]byte(Serialize([][2]string{{"a", "1"}, {"a", "2"}})), "a")
	f.Add([]byte{255, 255, 255, 255, 1, 0, 0, 0}, "")
	f.Fuzz(func(t *testing.T, raw []byte, name string) {
		Map(raw).Get(name)
		pairs := [][2]string{{name, string(raw)}, {"x", name}, {name, ""}}
		v, n := Serialize(pairs).Get(name)
		pv, pn := Pairs(pairs).Get(name)
		if v != pv || n != pn {
			t.Fatalf("Map %q, %d; Pairs %q, %d", v, n, pv, pn)
		}
		if got := Serialize(pairs).Pairs(); !slices.Equal(got, pairs) {
			t.Fatalf("Serialize then Pairs: %q, want %q", got, pairs)
		}
		for _, kv := range Map(raw).Pairs() {
			if v, n := Map(raw).Get(kv[0]); n == 0 || (v != kv[1] && n == 1) {
				t.Fatalf("Pairs has %q, Get says %q, %d", kv, v, n)
			}
		}
	})
}

func BenchmarkGetMissing(b *testing.B) {
	var pairs [][2]string
	for _, k := range []string{":method", ":path", ":authority", ":scheme", "user-agent", "accept", "accept-language", "accept-encoding", "cookie", "x-forwarded-for", "x-forwarded-proto", "content-type"} {
		pairs = append(pairs, [2]string{k, "some value of a header"})
	}
	m := Serialize(pairs)
	for b.Loop() {
		m.Get("x-firmly-authorization")
	}
}

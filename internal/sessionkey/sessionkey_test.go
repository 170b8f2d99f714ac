package sessionkey

import (
	"testing"
)

const secret = "test-secret-0123456789abcdef0123456789abcdef"

// Known answers from SPEC §2.4.
func TestKnownAnswers(t *testing.T) {
	for _, c := range []struct {
		name string
		in   Input
		want string
	}{
		{"string handle, no cookies",
			Input{Domain: "staging.luma.gift", Handle: "3f1c2a9e-7b4d-4e8a-9c2f-5d6e7f8a9b0c"},
			"b4d3fb9f5b284e7b67e310e72b2a3ebbfaed01cfdf73f02536c33dd570a6fdc4"},
		{"object handle, cookies in one order",
			Input{Domain: "staging.luma.gift", ObjectHandle: true, Handle: "cart-12345", Token: "9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b",
				Cookies: []Cookie{{"form_key", "XyZ"}, {"PHPSESSID", "abc123"}}},
			"7334bc9c2523ac4eb5483fde762c2e48fd3dd7c9bfd543ec16dc505d34047b1f"},
		{"object handle, cookies in the other order",
			Input{Domain: "staging.luma.gift", ObjectHandle: true, Handle: "cart-12345", Token: "9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b",
				Cookies: []Cookie{{"PHPSESSID", "abc123"}, {"form_key", "XyZ"}}},
			"7334bc9c2523ac4eb5483fde762c2e48fd3dd7c9bfd543ec16dc505d34047b1f"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Compute([]byte(secret), c.in); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestFieldsAreUnambiguous(t *testing.T) {
	base := Input{Domain: "a.test", Handle: "handle-0123456789012345678901234567890"}
	key := Compute([]byte(secret), base)
	variants := map[string]Input{
		"object instead of string": {Domain: base.Domain, ObjectHandle: true, Handle: base.Handle},
		"other domain":             {Domain: "b.test", Handle: base.Handle},
		"token split off handle":   {Domain: base.Domain, ObjectHandle: true, Handle: base.Handle[:10], Token: base.Handle[10:]},
		"one empty cookie":         {Domain: base.Domain, Handle: base.Handle, Cookies: []Cookie{{"a", ""}}},
		"name/value boundary":      {Domain: base.Domain, Handle: base.Handle, Cookies: []Cookie{{"ab", "c"}}},
	}
	seen := map[string]string{key: "base"}
	for name, in := range variants {
		k := Compute([]byte(secret), in)
		if prev, dup := seen[k]; dup {
			t.Errorf("%s collides with %s", name, prev)
		}
		seen[k] = name
	}
	if Compute([]byte(secret), Input{Domain: "d", Handle: "h", Cookies: []Cookie{{"a", "bc"}}}) ==
		Compute([]byte(secret), Input{Domain: "d", Handle: "h", Cookies: []Cookie{{"ab", "c"}}}) {
		t.Error("cookie name/value boundary is ambiguous")
	}
}

func BenchmarkCompute(b *testing.B) {
	in := Input{Domain: "staging.luma.gift", ObjectHandle: true, Handle: "cart-12345", Token: "9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b",
		Cookies: []Cookie{{"form_key", "XyZ"}, {"PHPSESSID", "abc123"}, {"_fbp", "fb.1.1700000000.123"}}}
	b.ReportAllocs()
	for b.Loop() {
		Compute([]byte(secret), in)
	}
}

// The key is computed once per transfer on a single-threaded,
// garbage-collected VM: keep its allocations few.
func TestComputeAllocations(t *testing.T) {
	in := Input{Domain: "staging.luma.gift", ObjectHandle: true, Handle: "cart-12345", Token: "9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b",
		Cookies: []Cookie{{Name: "form_key", Value: "XyZ"}, {Name: "PHPSESSID", Value: "abc123"}}}
	allocs := testing.AllocsPerRun(100, func() { Compute([]byte(secret), in) })
	if allocs > 12 {
		t.Errorf("%v allocations per key, want at most 12", allocs)
	}
}

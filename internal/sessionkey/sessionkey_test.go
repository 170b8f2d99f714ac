package sessionkey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"strings"
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
	k := NewKeyer([]byte(secret))
	b.ReportAllocs()
	for b.Loop() {
		k.Key(in)
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

// A Keyer, reused across keys and secrets of every length (a secret longer
// than SHA-256's block is hashed first), agrees with crypto/hmac over M
// built as Compute always built it.
func TestKeyerAgreesWithCryptoHMAC(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	str := func(n int) string {
		b := make([]byte, r.IntN(n))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return string(b)
	}
	for _, secretLen := range []int{32, 63, 64, 65, 200} {
		sec := []byte(strings.Repeat("k", secretLen))
		k := NewKeyer(sec)
		for range 50 {
			in := Input{Domain: str(30), ObjectHandle: r.IntN(2) == 0, Handle: str(60), Token: str(40)}
			for range r.IntN(5) {
				in.Cookies = append(in.Cookies, Cookie{str(4), str(6)})
			}
			kind := "s"
			if in.ObjectHandle {
				kind = "o"
			}
			var m []byte
			for _, f := range []string{Label, in.Domain, kind, in.Handle, in.Token, string(rune('0' + len(in.Cookies)))} {
				m = field(m, f)
			}
			for _, c := range Sorted(in.Cookies) {
				m = field(field(m, c.Name), c.Value)
			}
			mac := hmac.New(sha256.New, sec)
			mac.Write(m)
			if got, want := k.Key(in), hex.EncodeToString(mac.Sum(nil)); got != want {
				t.Fatalf("secret of %d bytes, %+v: %s, want %s", secretLen, in, got, want)
			}
		}
	}
}

// Once warm, a key allocates only its hex string, and the cookies it sorted
// are not kept.
func TestKeyerAllocatesOnlyTheKey(t *testing.T) {
	in := Input{Domain: "staging.luma.gift", ObjectHandle: true, Handle: "cart-12345", Token: "9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b",
		Cookies: []Cookie{{Name: "form_key", Value: "XyZ"}, {Name: "PHPSESSID", Value: "abc123"}}}
	k := NewKeyer([]byte(secret))
	if allocs := testing.AllocsPerRun(100, func() { k.Key(in) }); allocs != 1 {
		t.Errorf("%v allocations per key, want 1", allocs)
	}
	for _, c := range k.sorted {
		if c != (Cookie{}) {
			t.Fatalf("sorted cookies kept: %v", k.sorted)
		}
	}
}

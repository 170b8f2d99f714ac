package envoyhost

import (
	"slices"
	"testing"
)

func TestPairsCodec(t *testing.T) {
	p := Pairs{{":path", "/"}, {"x", ""}, {"", "v"}, {"dup", "1"}, {"dup", "2"}}
	got, err := decodePairs(encodePairs(p))
	if err != nil || !slices.Equal(got, p) {
		t.Errorf("round trip: %q, %v", got, err)
	}
	for _, empty := range [][]byte{nil, {0}} {
		if got, err := decodePairs(empty); err != nil || len(got) != 0 {
			t.Errorf("empty map %v: %q, %v", empty, got, err)
		}
	}
}

// Property: decoding never panics; what decodes re-encodes to a map that
// decodes the same; encoding then decoding is the identity.
func FuzzPairs(f *testing.F) {
	f.Add(encodePairs(Pairs{{"a", "b"}}))
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0})
	f.Add([]byte{2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePairs(b)
		if err != nil {
			return
		}
		again, err := decodePairs(encodePairs(p))
		if err != nil || !slices.Equal(again, p) {
			t.Fatalf("re-encoding %q gave %q, %v", p, again, err)
		}
	})
}

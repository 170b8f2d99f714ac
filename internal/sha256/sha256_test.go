package sha256_test

import (
	stdsha256 "crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/internal/sha256"
)

// The digest is a hash.Hash, as crypto/sha256's is.
var _ hash.Hash = sha256.New()

func TestVectors(t *testing.T) {
	// FIPS 180-4's examples (NIST's SHA256.pdf) and the million a's.
	tests := []struct{ in, want string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
		{strings.Repeat("a", 1_000_000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
	}
	for _, tt := range tests {
		sum := sha256.Sum256([]byte(tt.in))
		if got := hex.EncodeToString(sum[:]); got != tt.want {
			t.Errorf("Sum256(%.20q…) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// check compares every way of hashing data with crypto/sha256: Sum256, one
// Write, writes split at cut, WriteString, and Sum in the middle (which must
// not disturb the running state).
func check(t *testing.T, data []byte, cut int) {
	t.Helper()
	want := stdsha256.Sum256(data)
	if got := sha256.Sum256(data); got != want {
		t.Fatalf("Sum256 of %d bytes = %x, want %x", len(data), got, want)
	}
	cut = min(max(cut, 0), len(data))
	d := sha256.New()
	d.Write(data[:cut])
	mid := stdsha256.Sum256(data[:cut])
	if got := d.Sum(nil); string(got) != string(mid[:]) {
		t.Fatalf("Sum after %d of %d bytes = %x, want %x", cut, len(data), got, mid)
	}
	d.Write(data[cut:])
	if got := d.Sum([]byte("prefix")); string(got) != "prefix"+string(want[:]) {
		t.Fatalf("split at %d of %d bytes = %x, want prefix+%x", cut, len(data), got, want)
	}
	d.Reset()
	d.WriteString(string(data[:cut]))
	d.WriteString(string(data[cut:]))
	if got := d.Sum(nil); string(got) != string(want[:]) {
		t.Fatalf("WriteString split at %d of %d bytes = %x, want %x", cut, len(data), got, want)
	}
}

func TestMatchesCryptoSHA256(t *testing.T) {
	data := make([]byte, 3*sha256.BlockSize+7)
	for i := range data {
		data[i] = byte(i*7 + 3)
	}
	// Every length around the padding boundaries (55, 56, 64) and every cut.
	for n := range len(data) + 1 {
		for cut := 0; cut <= n; cut += 5 {
			check(t, data[:n], cut)
		}
	}
}

func FuzzMatchesCryptoSHA256(f *testing.F) {
	f.Add([]byte("abc"), 1)
	f.Add(make([]byte, 119), 64)
	f.Fuzz(func(t *testing.T, data []byte, cut int) { check(t, data, cut) })
}

func BenchmarkSum256(b *testing.B) {
	data := make([]byte, 1024)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		sha256.Sum256(data)
	}
}

// The same work through crypto/sha256, for a ratio within one run (the
// wasm figures are the ones that count: crypto/sha256 has no wasm assembly).
func BenchmarkSum256Std(b *testing.B) {
	data := make([]byte, 1024)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		stdsha256.Sum256(data)
	}
}

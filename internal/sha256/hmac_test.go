package sha256_test

import (
	"bytes"
	"crypto/hmac"
	stdsha256 "crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/firmly/session-transfer-filter/internal/sha256"
)

func TestHMACVectors(t *testing.T) {
	// RFC 4231, test cases 1, 2 and 6 (a key longer than a block).
	tests := []struct{ key, msg, want string }{
		{"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", hex.EncodeToString([]byte("Hi There")),
			"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{hex.EncodeToString([]byte("Jefe")), hex.EncodeToString([]byte("what do ya want for nothing?")),
			"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{hex.EncodeToString(bytes.Repeat([]byte{0xaa}, 131)),
			hex.EncodeToString([]byte("Test Using Larger Than Block-Size Key - Hash Key First")),
			"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	}
	for _, tt := range tests {
		key, _ := hex.DecodeString(tt.key)
		msg, _ := hex.DecodeString(tt.msg)
		sum := sha256.NewHMAC(key).Sum(msg)
		if got := hex.EncodeToString(sum[:]); got != tt.want {
			t.Errorf("HMAC(%s, %q) = %s, want %s", tt.key, msg, got, tt.want)
		}
	}
}

func FuzzHMACMatchesCryptoHMAC(f *testing.F) {
	f.Add([]byte("secret"), []byte("message"))
	f.Add(bytes.Repeat([]byte("k"), 65), bytes.Repeat([]byte("m"), 130))
	f.Fuzz(func(t *testing.T, key, msg []byte) {
		m := sha256.NewHMAC(key)
		want := hmac.New(stdsha256.New, key)
		want.Write(msg)
		// Twice: Sum must leave the prepared states untouched.
		for range 2 {
			if got := m.Sum(msg); !bytes.Equal(got[:], want.Sum(nil)) {
				t.Fatalf("HMAC(%x, %x) = %x, want %x", key, msg, got, want.Sum(nil))
			}
		}
	})
}

// An HS256 check's work on a typical signing input, against crypto/hmac
// with its state reused (as the filter used it), for a ratio within one run.
func BenchmarkHMAC(b *testing.B) {
	msg := make([]byte, 300)
	m := sha256.NewHMAC([]byte("a 32-byte secret for the session"))
	for b.Loop() {
		m.Sum(msg)
	}
}

func BenchmarkHMACStd(b *testing.B) {
	msg := make([]byte, 300)
	m := hmac.New(stdsha256.New, []byte("a 32-byte secret for the session"))
	var sum [32]byte
	for b.Loop() {
		m.Reset()
		m.Write(msg)
		m.Sum(sum[:0])
	}
}

package auth

import (
	"bytes"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"filippo.io/bigmod"
)

// randModulus is a random odd 2048-bit n (not a product of primes: the
// arithmetic does not care).
func randModulus(r *mrand.Rand) []byte {
	n := make([]byte, 256)
	for i := range n {
		n[i] = byte(r.Uint32())
	}
	n[0] |= 0x80
	n[255] |= 1
	return n
}

func below(r *mrand.Rand, n *big.Int) *big.Int {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	x := new(big.Int).SetBytes(b)
	return x.Mod(x, n)
}

func limbsOf(x *big.Int) *[64]uint32 {
	var z [64]uint32
	limbsFromBytes(&z, x.FillBytes(make([]byte, 256)))
	return &z
}

func bigOf(z *[64]uint32) *big.Int {
	b := make([]byte, 256)
	for i, l := range z {
		b[255-4*i] = byte(l)
		b[254-4*i] = byte(l >> 8)
		b[253-4*i] = byte(l >> 16)
		b[252-4*i] = byte(l >> 24)
	}
	return new(big.Int).SetBytes(b)
}

// montMul2048 against math/big on random moduli, with the edge operands
// (0, 1, n-1) and x aliasing y and z.
func TestMontMul2048AgreesWithMathBig(t *testing.T) {
	r := mrand.New(mrand.NewPCG(5, 6))
	rInv := new(big.Int)
	for range 200 {
		nb := randModulus(r)
		n := new(big.Int).SetBytes(nb)
		k := newRSA2048(nb)
		rInv.ModInverse(new(big.Int).Lsh(big.NewInt(1), 2048), n)
		if want := new(big.Int).Exp(big.NewInt(2), big.NewInt(4096), n); bigOf(&k.rr).Cmp(want) != 0 {
			t.Fatalf("rr = %x, want %x", bigOf(&k.rr), want)
		}
		ops := []*big.Int{below(r, n), below(r, n), big.NewInt(0), big.NewInt(1), new(big.Int).Sub(n, big.NewInt(1))}
		for _, x := range ops {
			for _, y := range ops {
				want := new(big.Int).Mul(x, y)
				want.Mul(want, rInv).Mod(want, n)
				var z [64]uint32
				montMul2048(&z, limbsOf(x), limbsOf(y), &k.n, k.n0inv)
				if got := bigOf(&z); got.Cmp(want) != 0 {
					t.Fatalf("n=%x\nx=%x y=%x\ngot  %x\nwant %x", n, x, y, got, want)
				}
			}
		}
		zx := limbsOf(ops[0])
		montMul2048(zx, zx, zx, &k.n, k.n0inv)
		want := new(big.Int).Mul(ops[0], ops[0])
		if want.Mul(want, rInv).Mod(want, n); bigOf(zx).Cmp(want) != 0 {
			t.Fatalf("aliased square: got %x, want %x", bigOf(zx), want)
		}
	}
}

// exp against math/big for the exponents a JWKS may carry, and s >= n
// refused as bigmod refuses it.
func TestRSA2048ExpAgreesWithMathBig(t *testing.T) {
	r := mrand.New(mrand.NewPCG(7, 8))
	for range 50 {
		nb := randModulus(r)
		n := new(big.Int).SetBytes(nb)
		k := newRSA2048(nb)
		for _, e := range []uint{3, 17, 65537, 1<<31 - 1} {
			s := below(r, n)
			got, ok := k.exp(s.FillBytes(make([]byte, 256)), e)
			want := new(big.Int).Exp(s, big.NewInt(int64(e)), n).FillBytes(make([]byte, 256))
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("e=%d: got %x, %v\nwant %x", e, got, ok, want)
			}
		}
		for _, s := range []*big.Int{n, new(big.Int).Add(n, big.NewInt(1)), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 2048), big.NewInt(1))} {
			if _, ok := k.exp(s.FillBytes(make([]byte, 256)), 65537); ok {
				t.Fatalf("s=%x >= n accepted", s)
			}
		}
	}
}

// The generated file is montgen's output, byte for byte: edit the
// generator and run go generate ./internal/auth, never the file.
func TestMont2048IsGenerated(t *testing.T) {
	out := filepath.Join(t.TempDir(), "mont2048.go")
	cmd := exec.Command("go", "run", "./montgen", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./montgen: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("mont2048.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("mont2048.go differs from montgen's output: run go generate ./internal/auth")
	}
}

// The generated path against bigmod, in one benchmark so the two are
// compared within one run: go test ./internal/auth -run X -bench RSA2048.
// (Under wasm: GOOS=wasip1 GOARCH=wasm go test -c, then run the binary under
// a wasm runtime; the plugin's own figure is in docs/performance.md.)
func BenchmarkRSA2048Exp(b *testing.B) {
	r := mrand.New(mrand.NewPCG(9, 10))
	nb := randModulus(r)
	n := new(big.Int).SetBytes(nb)
	sig := below(r, n).FillBytes(make([]byte, 256))
	b.Run("generated", func(b *testing.B) {
		k := newRSA2048(nb)
		for b.Loop() {
			k.exp(sig, 65537)
		}
	})
	b.Run("bigmod", func(b *testing.B) {
		m, err := bigmod.NewModulus(nb)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			s, _ := bigmod.NewNat().SetBytes(sig, m)
			bigmod.NewNat().ExpShortVarTime(s, 65537, m).Bytes(m)
		}
	})
}

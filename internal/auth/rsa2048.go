package auth

import "encoding/binary"

//go:generate go run ./montgen -o mont2048.go

// rsa2048 is a 2048-bit modulus prepared for montMul2048 (mont2048.go,
// generated): RS256 verification with bigmod's 64-bit limbs was 175–217 µs
// under V8, and it is Go's wasm code, not the arithmetic, that limits it
// (RATIONALE.md, "RSA"). Other sizes keep bigmod.
type rsa2048 struct {
	n     [64]uint32 // little-endian limbs
	n0inv uint32     // -n^-1 mod 2^32
	rr    [64]uint32 // 2^4096 mod n: converts into the Montgomery domain
}

// newRSA2048 prepares n, big-endian, of exactly 256 bytes with its top bit
// set, and odd.
func newRSA2048(n []byte) *rsa2048 {
	k := &rsa2048{}
	limbsFromBytes(&k.n, n)
	// Newton's iteration for n^-1 mod 2^32: each step doubles the correct
	// low bits, from 3 (n·n ≡ 1 mod 8 for odd n) to 48.
	inv := k.n[0]
	for range 4 {
		inv *= 2 - k.n[0]*inv
	}
	k.n0inv = -inv
	// 2^2048 mod n is 2^2048 - n (n > 2^2047); doubling it 2048 times mod n
	// gives 2^4096 mod n.
	var r [64]uint32
	sub2048(&r, &k.n) // 0 - n wraps to 2^2048 - n
	for range 2048 {
		carry := r[63] >> 31
		for i := 63; i > 0; i-- {
			r[i] = r[i]<<1 | r[i-1]>>31
		}
		r[0] <<= 1
		if carry != 0 || !lessThan2048(&r, &k.n) {
			sub2048(&r, &k.n)
		}
	}
	k.rr = r
	return k
}

// exp returns s^e mod n as 256 big-endian bytes, or false if s >= n (a
// signature must be below the modulus). e is odd and at least 3.
func (k *rsa2048) exp(sig []byte, e uint) ([]byte, bool) {
	var s, x, acc [64]uint32
	limbsFromBytes(&s, sig)
	if !lessThan2048(&s, &k.n) {
		return nil, false
	}
	montMul2048(&x, &s, &k.rr, &k.n, k.n0inv) // s·R mod n
	acc = x
	top := 0
	for e>>(top+1) != 0 {
		top++
	}
	for i := top - 1; i >= 0; i-- {
		montMul2048(&acc, &acc, &acc, &k.n, k.n0inv)
		if e>>i&1 != 0 {
			montMul2048(&acc, &acc, &x, &k.n, k.n0inv)
		}
	}
	one := [64]uint32{1}
	montMul2048(&acc, &acc, &one, &k.n, k.n0inv) // out of the domain
	out := make([]byte, 256)
	for i, l := range acc {
		binary.BigEndian.PutUint32(out[256-4*(i+1):], l)
	}
	return out, true
}

// limbsFromBytes reads 256 big-endian bytes into little-endian limbs.
func limbsFromBytes(z *[64]uint32, b []byte) {
	_ = b[255]
	for i := range z {
		z[i] = binary.BigEndian.Uint32(b[256-4*(i+1):])
	}
}

// lessThan2048 reports x < y.
func lessThan2048(x, y *[64]uint32) bool {
	for i := 63; i >= 0; i-- {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

// sub2048 sets z = z - y mod 2^2048.
func sub2048(z, y *[64]uint32) {
	var borrow uint64
	for i := range z {
		d := uint64(z[i]) - uint64(y[i]) - borrow
		z[i] = uint32(d)
		borrow = d >> 63
	}
}

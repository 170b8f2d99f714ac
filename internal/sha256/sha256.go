// Package sha256 computes SHA-256 (FIPS 180-4, section 6.2) in pure Go, with
// the subset of crypto/sha256's API the filter uses (New, Sum256, Size,
// BlockSize; a Digest is a hash.Hash).
//
// Why not crypto/sha256: importing it links the FIPS 140 module's
// self-tests and service indicator, which register at init and so keep
// AES (the CTR DRBG), GCM, SHA-3, SHA-512, HMAC and GODEBUG parsing in
// plugin.wasm although the filter never calls them (docs/performance.md,
// "Size"). On wasm crypto/sha256 has no assembly, so it runs the same kind
// of generic block function as this one. The tests check it against
// crypto/sha256 (vectors and a fuzzer).
package sha256

import (
	"encoding/binary"
	"math/bits"
)

// Size is the length of a SHA-256 checksum in bytes.
const Size = 32

// BlockSize is SHA-256's block size in bytes.
const BlockSize = 64

// Digest is a running SHA-256. Its zero value is not ready: use New, or
// Reset. A Digest is a plain value, so copying it saves its state (HMAC
// keeps its padded-key states that way).
type Digest struct {
	h   [8]uint32
	buf [BlockSize]byte
	n   int    // bytes in buf
	len uint64 // bytes written in all
}

// initial is H(0), FIPS 180-4 section 5.3.3.
var initial = [8]uint32{
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
}

// k are the round constants, FIPS 180-4 section 4.2.2.
var k = [64]uint32{
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

// New returns a Digest ready for writing.
func New() *Digest {
	d := new(Digest)
	d.Reset()
	return d
}

// Reset restores the initial state.
func (d *Digest) Reset() {
	d.h = initial
	d.n = 0
	d.len = 0
}

// Size returns Size (hash.Hash).
func (d *Digest) Size() int { return Size }

// BlockSize returns BlockSize (hash.Hash).
func (d *Digest) BlockSize() int { return BlockSize }

// Write adds p to the hashed message; it never fails.
func (d *Digest) Write(p []byte) (int, error) {
	n := len(p)
	d.len += uint64(n)
	if d.n > 0 {
		c := copy(d.buf[d.n:], p)
		d.n += c
		p = p[c:]
		if d.n < BlockSize {
			return n, nil
		}
		d.blocks(d.buf[:])
		d.n = 0
	}
	if full := len(p) &^ (BlockSize - 1); full > 0 {
		d.blocks(p[:full])
		p = p[full:]
	}
	d.n = copy(d.buf[:], p)
	return n, nil
}

// WriteString is Write for a string, without converting it to bytes on
// the heap.
func (d *Digest) WriteString(s string) (int, error) {
	n := len(s)
	for len(s) > 0 {
		c := copy(d.buf[d.n:], s)
		d.n += c
		d.len += uint64(c)
		s = s[c:]
		if d.n == BlockSize {
			d.blocks(d.buf[:])
			d.n = 0
		}
	}
	return n, nil
}

// Sum appends the checksum of what was written to b and returns it; d is
// not changed, so writing may go on.
func (d *Digest) Sum(b []byte) []byte {
	sum := d.checkSum()
	return append(b, sum[:]...)
}

func (d *Digest) checkSum() [Size]byte {
	c := *d // padding must not change d
	// Pad with 0x80, zeros up to 56 mod 64, then the bit length (5.1.1).
	var pad [BlockSize + 8]byte
	pad[0] = 0x80
	padLen := 55 - int(c.len%BlockSize)
	if padLen < 0 {
		padLen += BlockSize
	}
	binary.BigEndian.PutUint64(pad[1+padLen:], c.len<<3)
	c.Write(pad[:1+padLen+8])
	var out [Size]byte
	for i, v := range c.h {
		binary.BigEndian.PutUint32(out[4*i:], v)
	}
	return out
}

// Sum256 returns the SHA-256 checksum of data.
func Sum256(data []byte) [Size]byte {
	var d Digest
	d.Reset()
	d.Write(data)
	return d.checkSum()
}

// blocks hashes p, whose length is a multiple of BlockSize (6.2.2).
func (d *Digest) blocks(p []byte) {
	var w [64]uint32
	h0, h1, h2, h3, h4, h5, h6, h7 := d.h[0], d.h[1], d.h[2], d.h[3], d.h[4], d.h[5], d.h[6], d.h[7]
	for len(p) >= BlockSize {
		for i := range 16 {
			w[i] = binary.BigEndian.Uint32(p[4*i:])
		}
		for i := 16; i < 64; i++ {
			v1, v2 := w[i-2], w[i-15]
			s1 := bits.RotateLeft32(v1, -17) ^ bits.RotateLeft32(v1, -19) ^ v1>>10
			s0 := bits.RotateLeft32(v2, -7) ^ bits.RotateLeft32(v2, -18) ^ v2>>3
			w[i] = s1 + w[i-7] + s0 + w[i-16]
		}
		a, b, c, dd, e, f, g, h := h0, h1, h2, h3, h4, h5, h6, h7
		for i := range 64 {
			t1 := h + (bits.RotateLeft32(e, -6) ^ bits.RotateLeft32(e, -11) ^ bits.RotateLeft32(e, -25)) +
				(e&f ^ ^e&g) + k[i] + w[i]
			t2 := (bits.RotateLeft32(a, -2) ^ bits.RotateLeft32(a, -13) ^ bits.RotateLeft32(a, -22)) +
				(a&b ^ a&c ^ b&c)
			h, g, f, e, dd, c, b, a = g, f, e, dd+t1, c, b, a, t1+t2
		}
		h0 += a
		h1 += b
		h2 += c
		h3 += dd
		h4 += e
		h5 += f
		h6 += g
		h7 += h
		p = p[BlockSize:]
	}
	d.h = [8]uint32{h0, h1, h2, h3, h4, h5, h6, h7}
}

package sha256

// HMAC is HMAC-SHA256 (RFC 2104) under one key. The hash states after the
// padded key are computed once, so each Sum hashes only the message and the
// inner checksum, and allocates nothing (crypto/hmac's New allocated two
// digests and both pads per key, and links the FIPS 140 module).
type HMAC struct {
	inner, outer Digest // states after key^ipad and key^opad
}

// NewHMAC prepares HMAC-SHA256 under key; a key longer than BlockSize is
// hashed first, as RFC 2104 says.
func NewHMAC(key []byte) *HMAC {
	if len(key) > BlockSize {
		s := Sum256(key)
		key = s[:]
	}
	var ipad, opad [BlockSize]byte
	copy(ipad[:], key)
	copy(opad[:], key)
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	m := new(HMAC)
	m.inner.Reset()
	m.inner.Write(ipad[:])
	m.outer.Reset()
	m.outer.Write(opad[:])
	return m
}

// Sum returns HMAC-SHA256(key, msg).
func (m *HMAC) Sum(msg []byte) [Size]byte {
	d := m.inner
	d.Write(msg)
	inner := d.checkSum()
	d = m.outer
	d.Write(inner[:])
	return d.checkSum()
}

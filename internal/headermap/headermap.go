// Package headermap reads a header map in proxy-wasm's serialised form
// (what proxy_get_header_map_pairs returns) without decoding it: a lookup
// compares names in place and builds a string only for the value it
// returns. A refusal on headers reads three or four names out of a dozen or
// more headers; decoding every pair into Go strings first was most of its
// cost in Wasm.
//
// The form: the pair count, then each key's and value's length (32-bit
// little-endian), then each key and each value followed by a NUL.
package headermap

import "encoding/binary"

// Headers is a request's header map as the transfer engine reads it: keys
// lower-case, pseudo-headers included, every value of a repeated name.
type Headers interface {
	// Get returns the first value of name and how many times name occurs.
	Get(name string) (value string, count int)
}

// Map is a serialised header map. A malformed map (lengths running past
// its end) reads as holding the pairs before the fault.
type Map []byte

// Get implements Headers.
func (m Map) Get(name string) (value string, count int) {
	if len(m) < 4 {
		return "", 0
	}
	n := int(binary.LittleEndian.Uint32(m))
	if n > (len(m)-4)/8 {
		n = (len(m) - 4) / 8
	}
	data := 4 + 8*n
	for i := range n {
		kl := int(binary.LittleEndian.Uint32(m[4+8*i:]))
		vl := int(binary.LittleEndian.Uint32(m[8+8*i:]))
		if kl < 0 || vl < 0 || kl > len(m) || vl > len(m) || data+kl+vl+2 > len(m) {
			break
		}
		// The comparison converts without allocating.
		if kl == len(name) && string(m[data:data+kl]) == name {
			if count == 0 {
				value = string(m[data+kl+1 : data+kl+1+vl])
			}
			count++
		}
		data += kl + vl + 2
	}
	return value, count
}

// Pairs adapts decoded header pairs to Headers.
type Pairs [][2]string

// Get implements Headers.
func (p Pairs) Get(name string) (value string, count int) {
	for _, kv := range p {
		if kv[0] == name {
			if count == 0 {
				value = kv[1]
			}
			count++
		}
	}
	return value, count
}

// Serialize is proxy-wasm's serialised form of pairs.
func Serialize(pairs [][2]string) Map {
	size := 4
	for _, kv := range pairs {
		size += len(kv[0]) + len(kv[1]) + 10
	}
	out := make([]byte, 4, size)
	binary.LittleEndian.PutUint32(out, uint32(len(pairs)))
	for _, kv := range pairs {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(kv[0])))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(kv[1])))
	}
	for _, kv := range pairs {
		out = append(append(out, kv[0]...), 0)
		out = append(append(out, kv[1]...), 0)
	}
	return out
}

// Pairs decodes the whole map (for hosts and tests; the filter's hot paths
// use Get).
func (m Map) Pairs() [][2]string {
	if len(m) < 4 {
		return nil
	}
	n := int(binary.LittleEndian.Uint32(m))
	if n > (len(m)-4)/8 {
		n = (len(m) - 4) / 8
	}
	out := make([][2]string, 0, n)
	data := 4 + 8*n
	for i := range n {
		kl := int(binary.LittleEndian.Uint32(m[4+8*i:]))
		vl := int(binary.LittleEndian.Uint32(m[8+8*i:]))
		if kl > len(m) || vl > len(m) || data+kl+vl+2 > len(m) {
			break
		}
		out = append(out, [2]string{string(m[data : data+kl]), string(m[data+kl+1 : data+kl+1+vl])})
		data += kl + vl + 2
	}
	return out
}

package request

// pathUnescape decodes %XX escapes as net/url.PathUnescape does: any byte
// may be escaped, '+' stays '+', and a '%' not followed by two hex digits
// makes the segment invalid (false). Its own few lines keep net/url out of
// plugin.wasm: net/url links net/netip, whose init builds unique handles
// (docs/performance.md, "Size"), and the filter needs only this.
func pathUnescape(s string) (string, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if _, ok := unhex(s, i+1); !ok {
				return "", false
			}
			if _, ok := unhex(s, i+2); !ok {
				return "", false
			}
			n++
			i += 2
		}
	}
	if n == 0 {
		return s, true
	}
	b := make([]byte, 0, len(s)-2*n)
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			hi, _ := unhex(s, i+1)
			lo, _ := unhex(s, i+2)
			b = append(b, hi<<4|lo)
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b), true
}

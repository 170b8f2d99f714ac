// Package jsonw appends JSON values to a byte slice without reflection,
// byte for byte as encoding/json's Marshal writes them (HTML-safe escaping
// of <, > and &, U+2028 and U+2029 escaped, invalid UTF-8 replaced by
// \ufffd), so hand-written encoders stay interchangeable with json.Marshal.
package jsonw

import (
	"strconv"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// safe[b] is true for the ASCII bytes json.Marshal writes as they are:
// printable, and not '"', '\\', '<', '>' or '&'.
var safe = func() (s [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		s[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return s
}()

// String appends s as a JSON string.
func String(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Key appends a JSON object key and its colon: `"key":`.
func Key(dst []byte, key string) []byte { return append(String(dst, key), ':') }

// Int appends n.
func Int(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// Bool appends true or false.
func Bool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// Field appends prefix (such as `,"sku":`) and then s as a JSON string. It
// is kept out of line on purpose: hand-written encoders call it once per
// field, and inlined appends made the cart encoder 27 KB of wasm code.
//
//go:noinline
func Field(dst []byte, prefix, s string) []byte { return String(append(dst, prefix...), s) }

// CompactHTML appends the valid JSON value src as json.Compact followed by
// json.HTMLEscape write it: whitespace outside strings dropped, and <, >, &,
// U+2028 and U+2029 inside strings escaped. It does not validate src; on
// invalid JSON the output is unspecified.
func CompactHTML(dst, src []byte) []byte {
	inString := false
	start := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		if !inString {
			switch c {
			case ' ', '\t', '\n', '\r':
				dst = append(dst, src[start:i]...)
				start = i + 1
			case '"':
				inString = true
			}
			continue
		}
		switch c {
		case '\\':
			i++ // the escaped byte cannot end the string
		case '"':
			inString = false
		case '<', '>', '&':
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			start = i + 1
		case 0xe2:
			if i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xa8 {
				dst = append(dst, src[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hex[src[i+2]&0xf])
				i += 2
				start = i + 1
			}
		}
	}
	return append(dst, src[start:]...)
}

package pretty

import (
	"bytes"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// Options controls PrettyOptions.
type Options struct {
	// Width is accepted for compatibility with gjson's @pretty:{"width":N} argument and
	// ignored: every member and element always gets its own line.
	Width int
	// Prefix starts every output line.
	Prefix string
	// Indent is repeated once per nesting level.
	Indent string
	// SortKeys orders the members of every object by their decoded key (stable, so duplicate
	// keys keep their relative order and the last one still wins when decoded).
	SortKeys bool
}

// DefaultOptions is what Pretty uses and what gjson copies before applying @pretty's arguments.
var DefaultOptions = &Options{Width: 80, Prefix: "", Indent: "  ", SortKeys: false}

// Pretty formats json with DefaultOptions.
func Pretty(json []byte) []byte { return PrettyOptions(json, nil) }

// isSpace reports JSON's insignificant whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isDelim reports bytes that end a bare (number, literal or invalid) token.
func isDelim(c byte) bool {
	switch c {
	case '{', '}', '[', ']', ',', ':', '"':
		return true
	}
	return isSpace(c)
}

// stringEnd returns the index just past the string starting with the quote at json[i], or
// len(json) when the string is unterminated.
func stringEnd(json []byte, i int) int {
	for j := i + 1; j < len(json); j++ {
		switch json[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(json)
}

// Ugly returns a copy of json without insignificant whitespace; strings are kept byte for byte.
func Ugly(json []byte) []byte {
	out := make([]byte, 0, len(json))
	for i := 0; i < len(json); {
		c := json[i]
		switch {
		case c == '"':
			end := stringEnd(json, i)
			out = append(out, json[i:end]...)
			i = end
		case isSpace(c):
			i++
		default:
			out = append(out, c)
			i++
		}
	}
	return out
}

// member is one object member or array element in the output, as byte offsets: it spans
// [start, end) beginning with its line break (if any), and its key (objects only) spans
// [keyStart, keyEnd) including the quotes.
type member struct {
	start, end       int
	keyStart, keyEnd int
}

// frame is an open object or array.
type frame struct {
	obj        bool
	flat       bool // nested deeper than maxIndentDepth: printed without line breaks
	needLine   bool // the next value starts a new member on its own line
	afterColon bool // the next value is the value of the current member
	sortable   bool // the members are cleanly separated by single commas and all have keys
	members    []member
}

// maxIndentDepth bounds indentation: each line costs up to depth*len(Indent) bytes, so without
// a bound a few KB of "[[[[" would expand quadratically into gigabytes. Deeper containers are
// printed compactly on their parent's line.
const maxIndentDepth = 32

// printer holds PrettyOptions' state. It walks tokens with an explicit stack rather than
// recursion, so deep nesting cannot exhaust the goroutine stack.
type printer struct {
	opts  *Options
	out   []byte
	stack []frame
}

// newline starts a new output line at the given depth.
func (p *printer) newline(depth int) {
	p.out = append(p.out, '\n')
	p.out = append(p.out, p.opts.Prefix...)
	for range depth {
		p.out = append(p.out, p.opts.Indent...)
	}
}

// PrettyOptions formats json with opts (DefaultOptions when nil). Output ends with a newline
// unless json holds no tokens. Options.Width is ignored. Containers nested more than 32 levels
// deep are printed compactly on their parent's line, which bounds the output's size.
func PrettyOptions(json []byte, opts *Options) []byte {
	if opts == nil {
		opts = DefaultOptions
	}
	p := &printer{opts: opts, out: make([]byte, 0, len(json)+len(json)/2)}
	topValues := 0
	for i := 0; i < len(json); {
		c := json[i]
		if isSpace(c) {
			i++
			continue
		}
		// tok is the token's extent in json.
		end := i + 1
		switch {
		case c == '"':
			end = stringEnd(json, i)
		case !isDelim(c):
			for end < len(json) && !isDelim(json[end]) {
				end++
			}
		}
		tok := json[i:end]
		i = end

		switch c {
		case '}', ']':
			p.close(c)
			continue
		case ',':
			p.comma()
			continue
		case ':':
			p.out = append(p.out, ':')
			if n := len(p.stack); n > 0 {
				p.stack[n-1].afterColon = true
				if !p.stack[n-1].flat {
					p.out = append(p.out, ' ')
				}
			}
			continue
		}

		// A value starts: a string, a bare token, or an opening bracket.
		if n := len(p.stack); n == 0 {
			if topValues > 0 {
				p.newline(0)
			} else {
				p.out = append(p.out, opts.Prefix...)
			}
			topValues++
		} else {
			f := &p.stack[n-1]
			switch {
			case f.needLine:
				start := len(p.out)
				if !f.flat {
					p.newline(n)
				}
				m := member{start: start, end: -1, keyStart: -1, keyEnd: -1}
				if f.obj {
					if c == '"' {
						m.keyStart, m.keyEnd = len(p.out), len(p.out)+len(tok)
					} else {
						f.sortable = false
					}
				}
				f.members = append(f.members, m)
				f.needLine = false
			case !f.afterColon:
				// Two values without a separator: invalid, keep them apart.
				p.out = append(p.out, ' ')
				f.sortable = false
			}
			f.afterColon = false
		}
		p.out = append(p.out, tok...)
		if c == '{' || c == '[' {
			flat := len(p.stack) >= maxIndentDepth
			p.stack = append(p.stack, frame{obj: c == '{', flat: flat, needLine: true, sortable: true})
		}
	}
	if len(p.out) > 0 {
		p.out = append(p.out, '\n')
	}
	return p.out
}

// comma ends the current member of the innermost frame.
func (p *printer) comma() {
	n := len(p.stack)
	if n == 0 {
		p.out = append(p.out, ',')
		return
	}
	f := &p.stack[n-1]
	if k := len(f.members); k > 0 && f.members[k-1].end < 0 {
		f.members[k-1].end = len(p.out)
	} else {
		f.sortable = false // a comma with no member before it
	}
	p.out = append(p.out, ',')
	f.needLine = true
	f.afterColon = false
}

// close ends the innermost frame with the closing byte c, sorting its members if asked.
func (p *printer) close(c byte) {
	n := len(p.stack)
	if n == 0 {
		p.out = append(p.out, c) // a stray closer: keep it
		return
	}
	f := &p.stack[n-1]
	if k := len(f.members); k > 0 {
		if f.members[k-1].end < 0 {
			f.members[k-1].end = len(p.out)
		} else {
			f.sortable = false // a trailing comma
		}
		if !f.flat {
			p.newline(n - 1)
		}
	}
	p.out = append(p.out, c)
	if f.obj && p.opts.SortKeys && f.sortable && len(f.members) > 1 {
		p.sortMembers(f.members)
	}
	p.stack = p.stack[:n-1]
	if n > 1 {
		p.stack[n-2].afterColon = false
	}
}

// sortMembers reorders the members in place in p.out. They are known to be contiguous and
// separated by single commas, so the sorted region has the same length as the original.
func (p *printer) sortMembers(ms []member) {
	for i := 1; i < len(ms); i++ {
		if ms[i].start != ms[i-1].end+1 {
			return
		}
	}
	type keyed struct {
		key []byte
		m   member
	}
	ks := make([]keyed, len(ms))
	for i, m := range ms {
		ks[i] = keyed{decodeString(p.out[m.keyStart:m.keyEnd]), m}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return bytes.Compare(a.key, b.key) })
	first, last := ms[0].start, ms[len(ms)-1].end
	region := make([]byte, 0, last-first)
	for i, k := range ks {
		if i > 0 {
			region = append(region, ',')
		}
		region = append(region, p.out[k.m.start:k.m.end]...)
	}
	copy(p.out[first:last], region)
}

// decodeString returns the UTF-8 text of the JSON string s (with its quotes). Escapes are
// decoded, \uXXXX including surrogate pairs; lone surrogates and invalid UTF-8 become U+FFFD,
// as encoding/json does, so sorting agrees with the keys a decoder sees. Malformed escapes are
// kept as written.
func decodeString(s []byte) []byte {
	if len(s) > 0 && s[0] == '"' {
		s = s[1:]
	}
	if len(s) > 0 && s[len(s)-1] == '"' {
		s = s[:len(s)-1]
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				out = append(out, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(s[i:])
			out = utf8.AppendRune(out, r) // RuneError for invalid bytes
			i += size
			continue
		}
		if i+1 >= len(s) {
			out = append(out, c)
			i++
			continue
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s[i+2:])
			if !ok {
				out = append(out, c, e)
				i += 2
				continue
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := lowSurrogate(s[i:]); ok {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			out = append(out, c, e)
		}
		i += 2
	}
	return out
}

// lowSurrogate reads a \uXXXX escape at the start of s.
func lowSurrogate(s []byte) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}
	return hex4(s[2:])
}

// hex4 reads four hex digits at the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

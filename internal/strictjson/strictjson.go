// Package strictjson checks that a document is exactly one JSON object
// (RFC 8259) in valid UTF-8, nested at most a given depth, with no
// duplicate member names at any depth: the rules a request body (SPEC §2.3)
// and a remote JWKS (SPEC §2.2b) are held to.
//
// The check is one pass over the bytes, linear in the document's size
// whatever its shape: nesting is bounded before it is followed, and member
// names are compared in place (up to eight per object) or through one map
// for the whole document, never by walking a value again. Walking parsed
// values level by level (as gjson's ForEach does) costs the depth times the
// size, which made a 64 KiB body of nested arrays take 71 s in the module.
package strictjson

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is what is wrong with a document; OK when nothing is.
type Kind int

const (
	OK Kind = iota
	NotUTF8
	Syntax
	TooDeep
	NotObject
	Duplicate
)

// Options say how deep a document may nest and where duplicates are allowed.
type Options struct {
	// MaxDepth bounds the nesting of objects and arrays; the outermost
	// object is level 1.
	MaxDepth int
	// Unchecked is the member path of an object under which duplicate
	// names are not looked for (the body's handle.merchantData, which is
	// forwarded verbatim); nil checks everywhere.
	Unchecked []string
}

// Result is the first problem found. The order is fixed, so each document
// has one answer: invalid UTF-8, then nesting beyond MaxDepth or a syntax
// error (whichever comes first in the text), then a document that is not
// an object, then the first duplicate name in document order.
type Result struct {
	Kind Kind
	// Path is where the duplicate is, as a.b[2].c (member names
	// unescaped), for Duplicate.
	Path string
}

// span is a member name: b[start:end] is its text between the quotes.
type span struct {
	start, end int
	escaped    bool
}

// frame is one open object or array.
type frame struct {
	obj   bool
	n     int  // members or elements so far
	key   span // the current member's name (objects)
	match int  // how much of Options.Unchecked this frame's path is; -1: none
	skip  bool // duplicates are not checked here
	id    int  // the object's number in the document, for the name set
	few   [8]span
}

type scanner struct {
	b      []byte
	o      Options
	stack  []frame
	objs   int
	names  nameSet // names of objects past len(frame.few)
	tmp    [2][]byte
	dup    string // the first duplicate's path
	hasDup bool
}

// Check applies the rules to b.
func Check(b []byte, o Options) Result {
	if !utf8.Valid(b) {
		return Result{Kind: NotUTF8}
	}
	s := &scanner{b: b, o: o, stack: make([]frame, 0, max(o.MaxDepth, 0))}
	i := s.ws(0)
	isObject := i < len(b) && b[i] == '{'
	i, k := s.value(i)
	if k == OK {
		if i = s.ws(i); i != len(b) {
			k = Syntax
		}
	}
	switch {
	case k != OK:
		return Result{Kind: k}
	case !isObject:
		return Result{Kind: NotObject}
	case s.hasDup:
		return Result{Kind: Duplicate, Path: s.dup}
	}
	return Result{}
}

func (s *scanner) ws(i int) int {
	for i < len(s.b) {
		switch s.b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value scans the value at i and everything nested in it, without
// recursion: containers are frames on s.stack. It returns the index after
// the value.
func (s *scanner) value(i int) (int, Kind) {
	b := s.b
	base := len(s.stack)
	for {
		// A value starts at i.
		i = s.ws(i)
		if i >= len(b) {
			return i, Syntax
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if len(s.stack) >= s.o.MaxDepth {
				return i, TooDeep
			}
			s.push(c == '{')
			i = s.ws(i + 1)
			if i < len(b) && (b[i] == '}' && c == '{' || b[i] == ']' && c == '[') {
				s.pop()
				i++
				break
			}
			if c == '{' {
				var k Kind
				if i, k = s.member(i); k != OK {
					return i, k
				}
			}
			continue
		case c == '"':
			var k Kind
			if i, _, k = s.str(i); k != OK {
				return i, k
			}
		case c == '-' || c >= '0' && c <= '9':
			var ok bool
			if i, ok = s.number(i); !ok {
				return i, Syntax
			}
		default:
			var lit string
			switch c {
			case 't':
				lit = "true"
			case 'f':
				lit = "false"
			case 'n':
				lit = "null"
			default:
				return i, Syntax
			}
			if !bytes.HasPrefix(b[i:], []byte(lit)) {
				return i, Syntax
			}
			i += len(lit)
		}
		// A value ended at i: close containers until one wants more.
		for {
			if len(s.stack) == base {
				return i, OK
			}
			f := &s.stack[len(s.stack)-1]
			i = s.ws(i)
			if i >= len(b) {
				return i, Syntax
			}
			if b[i] == ',' {
				i++
				if f.obj {
					var k Kind
					if i, k = s.member(s.ws(i)); k != OK {
						return i, k
					}
				} else {
					f.n++
				}
				break
			}
			if f.obj && b[i] == '}' || !f.obj && b[i] == ']' {
				s.pop()
				i++
				continue
			}
			return i, Syntax
		}
	}
}

// push opens a container below the current frame's member or element. The
// frame is reused in place: only the fields a new container reads are set
// (few is read only up to n).
func (s *scanner) push(obj bool) {
	n := len(s.stack)
	skip, match := false, -1
	if n == 0 {
		match = 0
	} else {
		p := &s.stack[n-1]
		skip = p.skip
		if p.obj && p.match >= 0 && p.match < len(s.o.Unchecked) && s.name(p) == s.o.Unchecked[p.match] {
			match = p.match + 1
		}
	}
	if obj && match == len(s.o.Unchecked) && s.o.Unchecked != nil {
		skip = true
	}
	if n < cap(s.stack) {
		s.stack = s.stack[:n+1]
	} else {
		s.stack = append(s.stack, frame{})
	}
	f := &s.stack[n]
	f.obj, f.n, f.match, f.skip = obj, 0, match, skip
	if obj {
		s.objs++
		f.id = s.objs
	}
}

// pop closes the innermost container. Once no open object has names in
// the hash set, its entries are dead (object numbers are never reused), so
// the set is emptied; a large one is dropped, so emptying never costs more
// than the names that filled it.
func (s *scanner) pop() {
	f := &s.stack[len(s.stack)-1]
	if f.obj && f.n > len(f.few) && !f.skip {
		s.names.live -= f.n - len(f.few)
		if s.names.live == 0 {
			s.names.reset()
		}
	}
	s.stack = s.stack[:len(s.stack)-1]
}

// name is the current member name of p, unescaped.
func (s *scanner) name(p *frame) string {
	return string(s.unescaped(p.key, 0))
}

// member scans `"name" :` at i (whitespace skipped) into the top frame and
// checks the name against the object's earlier ones.
func (s *scanner) member(i int) (int, Kind) {
	b := s.b
	if i >= len(b) || b[i] != '"' {
		return i, Syntax
	}
	var sp span
	var k Kind
	if i, sp, k = s.str(i); k != OK {
		return i, k
	}
	i = s.ws(i)
	if i >= len(b) || b[i] != ':' {
		return i, Syntax
	}
	f := &s.stack[len(s.stack)-1]
	f.key = sp
	if !f.skip && !s.hasDup && s.seen(f, sp) {
		s.hasDup, s.dup = true, s.path()
	}
	f.n++
	if f.n > len(f.few) && !f.skip && !s.hasDup {
		s.names.live++
	}
	return i + 1, OK
}

// seen records the name sp in f and reports whether it was there already.
// The first names of an object are compared in place; past those, names
// go into one hash set for the whole document.
func (s *scanner) seen(f *frame, sp span) bool {
	if f.n < len(f.few) {
		for _, o := range f.few[:f.n] {
			if s.equal(o, sp) {
				return true
			}
		}
		f.few[f.n] = sp
		return false
	}
	if f.n == len(f.few) {
		for _, o := range f.few {
			s.names.add(s, f.id, o)
		}
	}
	return !s.names.add(s, f.id, sp)
}

// unescaped is a name's text: the bytes themselves, or its unescaped form
// in scratch buffer k.
func (s *scanner) unescaped(sp span, k int) []byte {
	raw := s.b[sp.start:sp.end]
	if !sp.escaped {
		return raw
	}
	s.tmp[k] = appendUnescaped(s.tmp[k][:0], raw)
	return s.tmp[k]
}

// equal compares two names as their unescaped text.
func (s *scanner) equal(a, b span) bool {
	if !a.escaped && !b.escaped {
		return bytes.Equal(s.b[a.start:a.end], s.b[b.start:b.end])
	}
	return bytes.Equal(s.unescaped(a, 0), s.unescaped(b, 1))
}

// appendUnescaped decodes the escapes of a scanned string's text as gjson
// (and encoding/json) read them: a surrogate pair is one rune, a lone
// surrogate is U+FFFD. So names compare as the filter later reads them.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i+1:])
			i += 4
			if r >= 0xD800 && r < 0xDC00 && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if r2 := hex4(raw[i+3:]); r2 >= 0xDC00 && r2 < 0xE000 {
					r = utf16.DecodeRune(r, r2)
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, raw[i])
		}
	}
	return dst
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// nameSet is an open-addressing hash set of (object, name). The hash is
// seeded at random per document, so a client cannot know which names
// collide; should a probe still run long, the set is rebuilt with a new
// seed. A slot is 8 bytes (32 bits of hash, an index into names), so the
// table of a 64 KiB body's names stays small. (hash/maphash was three
// times slower than this in the module.)
type nameSet struct {
	seed  uint64
	slots []uint64 // hash>>32 << 32 | index+1; 0 is empty
	names []setName
	live  int // names of open objects in the set
}

type setName struct {
	obj int
	sp  span
}

// maxProbe is far beyond what a random seed produces at half load.
const maxProbe = 64

func (t *nameSet) reset() {
	if len(t.slots) > 1024 {
		t.slots, t.names = nil, nil
	} else {
		clear(t.slots)
		t.names = t.names[:0]
	}
}

func (t *nameSet) hash(s *scanner, obj int, sp span) uint64 {
	h := t.seed ^ 14695981039346656037 ^ uint64(obj)*0x9e3779b97f4a7c15
	for _, c := range s.unescaped(sp, 0) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	// fmix64 of MurmurHash3, with the seed again, so every bit of the
	// index depends on every byte and on the seed.
	h ^= t.seed
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// add inserts name sp of object obj; false when it was there already.
func (t *nameSet) add(s *scanner, obj int, sp span) bool {
	if t.slots == nil {
		if t.seed == 0 {
			t.seed = rand.Uint64() | 1
		}
		t.slots = make([]uint64, 64)
	}
	if 2*(len(t.names)+1) > len(t.slots) {
		t.rebuild(s, 2*len(t.slots))
	}
	for {
		tag := t.hash(s, obj, sp) >> 32
		mask := uint64(len(t.slots) - 1)
		i := tag & mask
		for probe := 0; probe < maxProbe; probe++ {
			e := t.slots[i]
			if e == 0 {
				t.names = append(t.names, setName{obj, sp})
				t.slots[i] = tag<<32 | uint64(len(t.names))
				return true
			}
			if e>>32 == tag {
				if n := &t.names[e&0xffffffff-1]; n.obj == obj && s.equal(n.sp, sp) {
					return false
				}
			}
			i = (i + 1) & mask
		}
		t.seed = rand.Uint64() | 1
		t.rebuild(s, len(t.slots))
	}
}

// rebuild places every name again in a table of size slots (a power of
// two), with the current seed.
func (t *nameSet) rebuild(s *scanner, size int) {
	t.slots = make([]uint64, size)
	mask := uint64(size - 1)
	for k, n := range t.names {
		tag := t.hash(s, n.obj, n.sp) >> 32
		for i := tag & mask; ; i = (i + 1) & mask {
			if t.slots[i] == 0 {
				t.slots[i] = tag<<32 | uint64(k+1)
				break
			}
		}
	}
}

// path is the current member's path, built only for a duplicate.
func (s *scanner) path() string {
	var b strings.Builder
	for i := range s.stack {
		f := &s.stack[i]
		if f.obj {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.name(f))
		} else {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(f.n))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// str scans the string at i (b[i] == '"'): no raw control characters,
// only JSON's escapes. It returns the index after the closing quote.
func (s *scanner) str(i int) (int, span, Kind) {
	b := s.b
	sp := span{start: i + 1}
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			sp.end = i
			return i + 1, sp, OK
		case c < 0x20:
			return i, sp, Syntax
		case c == '\\':
			sp.escaped = true
			i++
			if i >= len(b) {
				return i, sp, Syntax
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return i, sp, Syntax
				}
				for _, h := range b[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return i, sp, Syntax
					}
				}
				i += 4
			default:
				return i, sp, Syntax
			}
		}
	}
	return i, sp, Syntax
}

// number scans -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at i.
func (s *scanner) number(i int) (int, bool) {
	b := s.b
	digits := func(i int) (int, bool) {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j, j > i
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	default:
		var ok bool
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	if i < len(b) && b[i] == '.' {
		var ok bool
		if i, ok = digits(i + 1); !ok {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		var ok bool
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	return i, true
}

// Package request validates a Session Transfer request: its route, method,
// domain, content type and body (SPEC §2.1–§2.3). It is pure Go: bytes and
// strings in, values and *apierror.Error out.
package request

import (
	"strings"

	"github.com/firmly/session-transfer-filter/internal/apierror"
)

// Route is a request path recognised as the transfer endpoint.
type Route struct {
	// RawDomain is the {domain} segment of the canonical path (escapes of
	// unreserved characters already decoded; NormalizeDomain does the rest).
	RawDomain string
	// Err is set when the path would be a transfer path but a segment has a
	// malformed escape or a NUL: the request is answered 400 before anything
	// else is checked.
	Err *apierror.Error
}

// MatchRoute reports whether path is the transfer endpoint,
// /api/v1|v2/domains/{domain}/session/transfer, in any spelling that
// canonicalises to it (Canonical): the query is ignored, slashes are merged
// (so trailing ones are tolerated) and the fixed segments match ASCII
// case-insensitively. A path with a malformed escape or a NUL whose other
// segments make it a transfer path matches, with Route.Err set.
//
// A path that needs no canonicalisation (no '%', '\', "//" or dot segment,
// which is every ordinary request) is matched in place, without allocating.
func MatchRoute(path string) (Route, bool) {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if len(path) == 0 {
		return Route{}, false
	}
	if plainPath(path) {
		return matchPlain(path)
	}
	// Six segments need five separators, each a '/', a '\' or an escape:
	// with fewer, the path cannot be a transfer and is not decoded (no
	// allocation for, say, /search/caf%C3%A9).
	if strings.Count(path, "/")+strings.Count(path, "\\")+strings.Count(path, "%") < 5 {
		return Route{}, false
	}
	return matchCanonical(path)
}

// matchCanonical canonicalises path (without its query) and matches it.
func matchCanonical(path string) (Route, bool) {
	segs, _ := canonicalSegments(path)
	return matchSegments(segs)
}

var errMalformedPath = apierror.New(apierror.InvalidInputBody, "path: malformed percent-encoding or NUL in a segment")

// plainPath reports whether canonicalising path would change nothing (but
// a trailing '/'): it starts with '/' and has no escape, backslash, NUL, empty
// segment other than a trailing one, or segment starting with '.'.
func plainPath(p string) bool {
	if p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '%', '\\', 0:
			return false
		case '/':
			if i+1 < len(p) && (p[i+1] == '/' || p[i+1] == '.') {
				return false
			}
		}
	}
	return true
}

// matchPlain matches a plain path segment by segment, in place.
func matchPlain(p string) (Route, bool) {
	p = strings.TrimSuffix(p[1:], "/")
	var seg [6]string
	for i := range seg {
		j := strings.IndexByte(p, '/')
		if i == len(seg)-1 {
			if j >= 0 {
				return Route{}, false
			}
			seg[i] = p
			break
		}
		if j < 0 {
			return Route{}, false
		}
		seg[i], p = p[:j], p[j+1:]
	}
	if !fixedSegments(seg[:], func(i int) bool { return false }) {
		return Route{}, false
	}
	return Route{RawDomain: seg[3]}, true
}

// fixedSegments checks the five fixed segments of a transfer path, ASCII
// case-insensitively; wild(i) segments match anything.
func fixedSegments(seg []string, wild func(int) bool) bool {
	for i, want := range [...]string{"api", "", "domains", "", "session", "transfer"} {
		switch {
		case wild(i), i == 3:
		case i == 1:
			if !strings.EqualFold(seg[i], "v1") && !strings.EqualFold(seg[i], "v2") {
				return false
			}
		case !strings.EqualFold(seg[i], want):
			return false
		}
	}
	return true
}

// matchSegments matches canonical segments; a segment holding a NUL (a
// malformed escape or a decoded NUL, see canonicalSegments) matches any
// fixed segment, and makes a match a malformed path.
func matchSegments(segs []string) (Route, bool) {
	if len(segs) != 6 {
		return Route{}, false
	}
	bad := func(i int) bool { return strings.IndexByte(segs[i], 0) >= 0 }
	if !fixedSegments(segs, bad) {
		return Route{}, false
	}
	for i := range segs {
		if bad(i) {
			return Route{Err: errMalformedPath}, true
		}
	}
	return Route{RawDomain: segs[3]}, true
}

// Canonical is path (without its query) as a lenient upstream reads it
// (SPEC §2.1): escapes of unreserved characters (A-Za-z0-9-._~) and of '/'
// and '\' decoded, '\' read as '/', dot segments removed (RFC 3986
// §5.2.4), runs of '/' merged; other escapes are kept as written. ok is
// false when a segment has a malformed escape ('%' not followed by two hex
// digits) or a NUL. Canonical(Canonical(p)) == Canonical(p).
func Canonical(path string) (canonical string, ok bool) {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	segs, trailing := canonicalSegments(path)
	var b strings.Builder
	for _, s := range segs {
		if strings.IndexByte(s, 0) >= 0 {
			return "", false
		}
		b.WriteByte('/')
		b.WriteString(s)
	}
	if trailing || len(segs) == 0 {
		b.WriteByte('/')
	}
	return b.String(), true
}

// canonicalSegments decodes path and returns its non-empty segments after
// dot-segment removal, and whether the canonical path ends with '/'. A
// malformed escape is decoded as a NUL byte, so a segment holding a NUL is
// a bad one whichever the cause.
func canonicalSegments(path string) (segs []string, trailing bool) {
	dec := make([]byte, 0, len(path))
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '\\':
			c = '/'
		case c == '%':
			hi, ok1 := unhex(path, i+1)
			lo, ok2 := unhex(path, i+2)
			if !ok1 || !ok2 {
				c = 0 // malformed: the '%' alone marks the segment bad
				break
			}
			d := hi<<4 | lo
			switch {
			case d == '/' || d == '\\':
				c = '/'
			case d == 0 || unreserved(d):
				c = d
			default:
				dec = append(dec, path[i:i+3]...)
				i += 2
				continue
			}
			i += 2
		}
		dec = append(dec, c)
	}
	s := string(dec)
	// Dot segments are removed before slashes are merged, as RFC 3986 reads
	// the path: in /a//../b the ".." removes the empty segment.
	stack := make([]string, 0, 8)
	rest := strings.TrimPrefix(s, "/")
	for {
		seg, more, found := strings.Cut(rest, "/")
		last := !found
		switch seg {
		case ".":
			trailing = last
		case "..":
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			trailing = last
		default:
			stack = append(stack, seg)
			trailing = last && seg == ""
		}
		if last {
			break
		}
		rest = more
	}
	segs = stack[:0]
	for _, seg := range stack {
		if seg != "" {
			segs = append(segs, seg)
		}
	}
	return segs, trailing && len(segs) > 0
}

func unhex(s string, i int) (byte, bool) {
	if i >= len(s) {
		return 0, false
	}
	switch c := s[i]; {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unreserved is RFC 3986's unreserved set.
func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// NormalizeDomain percent-decodes and lower-cases the {domain} segment,
// checks it is a DNS host name (labels of [a-z0-9-], 1–63 characters, not
// starting or ending with '-', 253 in all, no trailing dot), then drops a
// leading "www.".
func NormalizeDomain(raw string) (string, *apierror.Error) {
	bad := func(why string) *apierror.Error {
		return apierror.New(apierror.InvalidInputBody, "domain: %s", why)
	}
	d, ok := pathUnescape(raw)
	if !ok {
		return "", bad("invalid percent-encoding")
	}
	d = strings.ToLower(d)
	switch {
	case d == "":
		return "", bad("must not be empty")
	case len(d) > 253:
		return "", bad("longer than 253 characters")
	case strings.HasSuffix(d, "."):
		return "", bad("must not end with a dot")
	}
	for _, label := range strings.Split(d, ".") {
		if len(label) == 0 || len(label) > 63 {
			return "", bad("each label must be 1 to 63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", bad("a label must not start or end with '-'")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", bad("not a valid host name")
			}
		}
	}
	if d == "www" {
		return "", bad("not a valid host name")
	}
	d = strings.TrimPrefix(d, "www.")
	return d, nil
}

// CheckContentType accepts application/json with any parameters.
func CheckContentType(values []string) *apierror.Error {
	if len(values) != 1 {
		if len(values) == 0 {
			return apierror.New(apierror.InvalidInputBody, "content-type: must be application/json")
		}
		return apierror.New(apierror.InvalidInputBody, "content-type: must be given once")
	}
	// The media type before any parameters, case-insensitive. (Package mime
	// would link file-system calls that Envoy 1.33 does not provide.)
	mt, _, _ := strings.Cut(values[0], ";")
	if !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		return apierror.New(apierror.InvalidInputBody, "content-type: must be application/json")
	}
	return nil
}

// MaxRequestIDBytes bounds a forwarded x-request-id (SPEC §2.5).
const MaxRequestIDBytes = 128

// RequestID returns the client's x-request-id when it may be forwarded and
// logged: 1 to 128 bytes of printable ASCII without spaces (0x21–0x7E).
// Anything else is dropped, never repaired: "" and false.
func RequestID(v string) (string, bool) {
	if len(v) == 0 || len(v) > MaxRequestIDBytes {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return "", false
		}
	}
	return v, true
}

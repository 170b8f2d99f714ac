package request

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/firmly/session-transfer-filter/internal/apierror"
	"github.com/firmly/session-transfer-filter/internal/sessionkey"
)

// Limits bound what a body may hold; the defaults are SPEC §3's.
type Limits struct {
	HandleMinLength int // string handle, or object handle without a token
	TokenMinLength  int
	MaxCookies      int
}

// DefaultLimits are the configuration defaults.
var DefaultLimits = Limits{HandleMinLength: 36, TokenMinLength: 36, MaxCookies: 64}

const (
	maxHandleLength       = 1024
	maxTokenLength        = 4096
	maxMerchantDataBytes  = 16 << 10
	maxCookieNameLength   = 256
	maxCookieValueLength  = 4096
	supportedHandleFormat = "1.0"
)

// Transfer is a validated request body.
type Transfer struct {
	// ObjectHandle is true when handle was a JSON object.
	ObjectHandle bool
	// Handle is the string handle, or handle.handle.
	Handle string
	// Token is handle.token, or "".
	Token string
	// RawHandle is the handle's JSON text exactly as received.
	RawHandle string
	// Cookies are normalised (trimmed, attributes dropped), in request order.
	Cookies []sessionkey.Cookie
}

func invalid(format string, args ...any) *apierror.Error {
	return apierror.New(apierror.InvalidInputBody, format, args...)
}

// ParseBody validates a transfer body: one JSON object in valid UTF-8,
// without duplicate keys (except inside handle.merchantData, which is
// forwarded verbatim), with a valid handle and cookies. Unknown keys are
// ignored. Descriptions name the field and never echo its value.
func ParseBody(body []byte, lim Limits) (*Transfer, *apierror.Error) {
	if !utf8.Valid(body) {
		return nil, invalid("body: must be valid UTF-8")
	}
	if !gjson.ValidBytes(body) {
		return nil, invalid("body: must be valid JSON")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, invalid("body: must be a JSON object")
	}
	if path, dup := duplicateKey(root, ""); dup {
		return nil, invalid("%s: duplicate key", path)
	}
	t := &Transfer{}
	h := root.Get("handle")
	switch {
	case !h.Exists() || h.Type == gjson.Null:
		return nil, invalid("handle: required")
	case h.Type == gjson.String:
		if err := checkVisible("handle", h.Str, lim.HandleMinLength, maxHandleLength); err != nil {
			return nil, err
		}
		t.Handle = h.Str
	case h.IsObject():
		t.ObjectHandle = true
		if err := parseObjectHandle(h, lim, t); err != nil {
			return nil, err
		}
	default:
		return nil, invalid("handle: must be a string or an object")
	}
	t.RawHandle = h.Raw
	cookies, err := ParseCookies(root.Get("cookies"), lim.MaxCookies)
	if err != nil {
		return nil, err
	}
	t.Cookies = cookies
	return t, nil
}

func parseObjectHandle(h gjson.Result, lim Limits, t *Transfer) *apierror.Error {
	inner := h.Get("handle")
	if !inner.Exists() || inner.Type == gjson.Null {
		return invalid("handle.handle: required")
	}
	if inner.Type != gjson.String {
		return invalid("handle.handle: must be a string")
	}
	if err := checkVisible("handle.handle", inner.Str, 1, maxHandleLength); err != nil {
		return err
	}
	t.Handle = inner.Str
	if tok := h.Get("token"); tok.Exists() && tok.Type != gjson.Null {
		if tok.Type != gjson.String {
			return invalid("handle.token: must be a string")
		}
		if err := checkVisible("handle.token", tok.Str, lim.TokenMinLength, maxTokenLength); err != nil {
			return err
		}
		t.Token = tok.Str
	} else if len(t.Handle) < lim.HandleMinLength {
		return invalid("handle.handle: must be at least %d characters when there is no token", lim.HandleMinLength)
	}
	if md := h.Get("merchantData"); md.Exists() && md.Type != gjson.Null {
		if !md.IsObject() {
			return invalid("handle.merchantData: must be an object")
		}
		if len(md.Raw) > maxMerchantDataBytes {
			return invalid("handle.merchantData: must be at most %d bytes", maxMerchantDataBytes)
		}
	}
	if v := h.Get("version"); v.Exists() && v.Type != gjson.Null {
		if v.Type != gjson.String || v.Str != supportedHandleFormat {
			return invalid("handle.version: must be %q", supportedHandleFormat)
		}
	}
	return nil
}

// checkVisible checks a string of visible ASCII (0x21–0x7E) whose length
// lies in [min, max].
func checkVisible(field, s string, min, max int) *apierror.Error {
	if len(s) < min {
		return invalid("%s: must be at least %d characters", field, min)
	}
	if len(s) > max {
		return invalid("%s: must be at most %d characters", field, max)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return invalid("%s: must be visible ASCII characters only", field)
		}
	}
	return nil
}

// duplicateKey finds the first object key that repeats, at any depth, but
// does not look inside handle.merchantData. The path of the duplicate is
// built only once one is found: building every member's path (and a map
// per object) was most of a body's parsing cost.
func duplicateKey(v gjson.Result, path string) (string, bool) {
	var at *pathSeg
	if path != "" {
		at = &pathSeg{key: path}
	}
	if dup := findDuplicate(v, at); dup != nil {
		return dup.String(), true
	}
	return "", false
}

// pathSeg is one step of a JSON path: a key, or an array index when key
// is empty and index >= 0.
type pathSeg struct {
	parent *pathSeg
	key    string
	index  int
}

func (s *pathSeg) String() string {
	if s == nil {
		return ""
	}
	p := s.parent.String()
	if s.index >= 0 && s.key == "" {
		return p + "[" + strconv.Itoa(s.index) + "]"
	}
	if p == "" {
		return s.key
	}
	return p + "." + s.key
}

// isMerchantData reports whether s is the path handle.merchantData (as a
// string, as before: a key may itself contain a dot).
func (s *pathSeg) isMerchantData() bool {
	return s != nil && s.index < 0 && strings.HasSuffix(s.key, "merchantData") && s.String() == "handle.merchantData"
}

// findDuplicate returns the path of the first repeated key under v, at
// path at, or nil.
func findDuplicate(v gjson.Result, at *pathSeg) *pathSeg {
	switch {
	case v.IsObject():
		if at.isMerchantData() {
			return nil
		}
		// Small objects compare keys in place; larger ones use a map, so a
		// body of many keys stays linear.
		var few [8]string
		n := 0
		var seen map[string]bool
		var dup *pathSeg
		v.ForEach(func(k, val gjson.Result) bool {
			repeated := false
			if seen != nil {
				repeated = seen[k.Str]
			} else {
				for _, f := range few[:n] {
					if f == k.Str {
						repeated = true
						break
					}
				}
			}
			if repeated {
				dup = &pathSeg{parent: at, key: k.Str, index: -1}
				return false
			}
			switch {
			case seen != nil:
				seen[k.Str] = true
			case n < len(few):
				few[n] = k.Str
				n++
			default:
				seen = make(map[string]bool, 2*len(few))
				for _, f := range few {
					seen[f] = true
				}
				seen[k.Str] = true
			}
			if val.IsObject() || val.IsArray() {
				dup = findDuplicate(val, &pathSeg{parent: at, key: k.Str, index: -1})
				return dup == nil
			}
			return true
		})
		return dup
	case v.IsArray():
		var dup *pathSeg
		i := 0
		v.ForEach(func(_, val gjson.Result) bool {
			if val.IsObject() || val.IsArray() {
				dup = findDuplicate(val, &pathSeg{parent: at, index: i})
				if dup != nil {
					return false
				}
			}
			i++
			return true
		})
		return dup
	}
	return nil
}

// ParseCookies validates and normalises the cookies array (absent or null
// means none). Each item is "name=value" (anything after the first ';' is a
// cookie attribute and is dropped) or {"name": ..., "value": ...}; spaces and
// tabs around name and value are trimmed.
func ParseCookies(v gjson.Result, max int) ([]sessionkey.Cookie, *apierror.Error) {
	if !v.Exists() || v.Type == gjson.Null {
		return nil, nil
	}
	if !v.IsArray() {
		return nil, invalid("cookies: must be an array")
	}
	items := v.Array()
	if len(items) > max {
		return nil, invalid("cookies: at most %d cookies", max)
	}
	out := make([]sessionkey.Cookie, 0, len(items))
	for i, item := range items {
		field := fmt.Sprintf("cookies[%d]", i)
		var name, value string
		switch {
		case item.Type == gjson.String:
			pair, _, _ := strings.Cut(item.Str, ";")
			n, val, ok := strings.Cut(pair, "=")
			if !ok {
				return nil, invalid("%s: must be name=value", field)
			}
			name, value = n, val
		case item.IsObject():
			n, val := item.Get("name"), item.Get("value")
			if n.Type != gjson.String {
				return nil, invalid("%s.name: must be a string", field)
			}
			if val.Type != gjson.String {
				return nil, invalid("%s.value: must be a string", field)
			}
			name, value = n.Str, val.Str
		default:
			return nil, invalid("%s: must be a string or an object", field)
		}
		c, err := NormalizeCookie(field, name, value)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// NormalizeCookie trims spaces and tabs and checks the RFC 6265 rules.
func NormalizeCookie(field, name, value string) (sessionkey.Cookie, *apierror.Error) {
	name = strings.Trim(name, " \t")
	value = strings.Trim(value, " \t")
	if len(name) == 0 || len(name) > maxCookieNameLength {
		return sessionkey.Cookie{}, invalid("%s: name must be 1 to %d characters", field, maxCookieNameLength)
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return sessionkey.Cookie{}, invalid("%s: name must be an RFC 6265 token", field)
		}
	}
	if len(value) > maxCookieValueLength {
		return sessionkey.Cookie{}, invalid("%s: value must be at most %d bytes", field, maxCookieValueLength)
	}
	for i := 0; i < len(value); i++ {
		if value[i] < 0x20 || value[i] == 0x7f {
			return sessionkey.Cookie{}, invalid("%s: value must not contain control characters", field)
		}
	}
	return sessionkey.Cookie{Name: name, Value: value}, nil
}

// isTokenChar is RFC 7230's tchar, which RFC 6265 uses for cookie names.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

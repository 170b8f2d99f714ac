package request

import (
	"github.com/firmly/session-transfer-filter/internal/fmtlite"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/firmly/session-transfer-filter/internal/apierror"
	"github.com/firmly/session-transfer-filter/internal/sessionkey"
	"github.com/firmly/session-transfer-filter/internal/strictjson"
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

// MaxBodyDepth bounds the nesting of a body, merchantData included; the
// body's own object is level 1 (SPEC §2.3).
const MaxBodyDepth = 32

var bodyRules = strictjson.Options{MaxDepth: MaxBodyDepth, Unchecked: []string{"handle", "merchantData"}}

// ParseBody validates a transfer body: one JSON object in valid UTF-8,
// nested at most MaxBodyDepth deep, without duplicate keys (except inside
// handle.merchantData, which is forwarded verbatim), with a valid handle
// and cookies. Unknown keys are ignored. Descriptions name the field and
// never echo its value. The structural checks are one linear pass
// (strictjson), so no body shape can make them slow.
func ParseBody(body []byte, lim Limits) (*Transfer, *apierror.Error) {
	switch r := strictjson.Check(body, bodyRules); r.Kind {
	case strictjson.NotUTF8:
		return nil, invalid("body: must be valid UTF-8")
	case strictjson.Syntax:
		return nil, invalid("body: must be valid JSON")
	case strictjson.TooDeep:
		return nil, invalid("body: nested deeper than %d", MaxBodyDepth)
	case strictjson.NotObject:
		return nil, invalid("body: must be a JSON object")
	case strictjson.Duplicate:
		return nil, invalid("%s: duplicate key", r.Path)
	}
	root := gjson.ParseBytes(body)
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
		field := fmtlite.Sprintf("cookies[%d]", i)
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

// Package apierror is the catalogue of errors the transfer endpoint answers
// with (SPEC §2.8) and their JSON body.
package apierror

import (
	"github.com/firmly/session-transfer-filter/internal/fmtlite"
	"strconv"
	"sync"

	"github.com/firmly/session-transfer-filter/internal/jsonw"
)

// Kind is one documented error: its HTTP status and its name.
type Kind struct {
	Status int
	Name   string
}

// The catalogue.
var (
	InvalidInputBody        = Kind{400, "ErrorInvalidInputBody"}
	MissingAuthHeader       = Kind{401, "MissingAuthHeader"}
	MethodNotAllowed        = Kind{405, "ErrorMethodNotAllowed"}
	PayloadTooLarge         = Kind{413, "ErrorPayloadTooLarge"}
	CannotTransferSession   = Kind{422, "ErrorCannotTransferSession"}
	NoLineItem              = Kind{422, "ErrorNoLineItem"}
	NotEnoughStock          = Kind{422, "ErrorNotEnoughStock"}
	Internal                = Kind{500, "ErrorInternal"}
	InvalidMerchantResponse = Kind{502, "ErrorInvalidMerchantResponse"}
	StoreUnavailable        = Kind{503, "ErrorStoreUnavailable"}
	SessionStoreUnavailable = Kind{503, "ErrorSessionStoreUnavailable"}
	AuthUnavailable         = Kind{503, "ErrorAuthUnavailable"}
)

// All lists the catalogue, for documentation and tests.
var All = []Kind{
	InvalidInputBody, MissingAuthHeader, MethodNotAllowed, PayloadTooLarge, CannotTransferSession,
	NoLineItem, NotEnoughStock, Internal, InvalidMerchantResponse, StoreUnavailable, SessionStoreUnavailable, AuthUnavailable,
}

// Error is an answer to the client. Description must never carry a token,
// a JWT, a cookie value or a secret.
type Error struct {
	Kind        Kind
	Description string
}

// MaxDescription bounds every description (SPEC §2.8), whatever the
// merchant, the backend or the client sent.
const MaxDescription = 1024

// New makes an Error with a formatted description of at most
// MaxDescription bytes.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Description: Cut(sprintf(format, args), MaxDescription)}
}

// sprintf is fmt.Sprintf for the descriptions the filter writes: a
// constant, or %s and %d verbs with string and int arguments, it writes
// without fmt (under wazero fmt cost a refusal several microseconds);
// anything else goes to fmtlite.Sprintf.
func sprintf(format string, args []any) string {
	var b []byte
	n := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if i+1 >= len(format) || n >= len(args) {
			return fmtlite.Sprintf(format, args...)
		}
		if b == nil {
			b = append(make([]byte, 0, len(format)+32), format[:i]...)
		}
		switch v := args[n]; {
		case format[i+1] == 's' && isString(v):
			b = append(b, v.(string)...)
		case format[i+1] == 'd' && isInt(v):
			b = strconv.AppendInt(b, int64(v.(int)), 10)
		default:
			return fmtlite.Sprintf(format, args...)
		}
		n++
		i++
	}
	if n != len(args) {
		return fmtlite.Sprintf(format, args...)
	}
	if b == nil {
		return format
	}
	return string(b)
}

func isString(v any) bool { _, ok := v.(string); return ok }
func isInt(v any) bool    { _, ok := v.(int); return ok }

// Cut returns s cut to at most n bytes on a UTF-8 boundary.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 { // back off continuation bytes
		i--
	}
	return s[:i]
}

func (e *Error) Error() string { return e.Kind.Name + ": " + e.Description }

// Body is the JSON body: {"code", "error", "description", "message"},
// byte for byte as json.Marshal wrote it. Bodies of short descriptions are
// kept, so a refusal repeated with the same description (most are constant)
// answers from a precomputed body; the returned slice is shared and must
// not be modified.
func (e *Error) Body() []byte {
	k := bodyKey{e.Kind, e.Description}
	bodies.mu.Lock()
	b, ok := bodies.m[k]
	bodies.mu.Unlock()
	if ok {
		return b
	}
	b = make([]byte, 0, 64+len(e.Kind.Name)+2*len(e.Description))
	b = append(b, `{"code":`...)
	b = jsonw.Int(b, int64(e.Kind.Status))
	b = append(b, `,"error":`...)
	b = jsonw.String(b, e.Kind.Name)
	mark := len(b)
	b = append(b, `,"description":`...)
	b = jsonw.String(b, e.Description)
	desc := b[mark+len(`,"description":`):]
	b = append(b, `,"message":`...)
	b = append(b, desc...)
	b = append(b, '}')
	if len(e.Description) <= maxCachedDescription {
		bodies.mu.Lock()
		if len(bodies.m) < maxCachedBodies {
			bodies.m[k] = b
		}
		bodies.mu.Unlock()
	}
	return b
}

// The cache is bounded: descriptions that carry request data (a method
// name, a status) could otherwise grow it without end. Once full it keeps
// what it has; later bodies are built each time, as before.
const (
	maxCachedBodies      = 128
	maxCachedDescription = 160
)

type bodyKey struct {
	kind Kind
	desc string
}

var bodies = struct {
	mu sync.Mutex // uncontended in the single-threaded VM; tests run in parallel
	m  map[bodyKey][]byte
}{m: map[bodyKey][]byte{}}

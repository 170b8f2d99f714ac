// Package tracecontext picks the client's trace headers that the filter
// copies onto its two callouts (SPEC §2.5). Envoy does not trace
// dispatch_http_call, so without them the merchant export and the backend
// write would be orphans in the client's trace. A header is copied only
// when it is present once and well formed; anything else is dropped, never
// repaired, so a client cannot use the callouts to smuggle bytes to a
// merchant or a backend. It is pure and knows nothing of Envoy.
package tracecontext

import "github.com/firmly/session-transfer-filter/internal/headermap"

// Names are the trace headers copied, in the order they are copied: W3C
// Trace Context, B3 single and multi header, and Google Cloud Trace.
var Names = [...]string{
	"traceparent", "tracestate",
	"b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags",
	"x-cloud-trace-context",
}

// MaxValueBytes bounds every trace header but traceparent, whose form fixes
// its length.
const MaxValueBytes = 512

// Pick returns the trace headers of h (lower-case names; a repeated header
// counts every value) to copy onto a callout, in the order of Names. A header
// that is repeated or malformed is left out.
func Pick(h headermap.Headers) [][2]string {
	var out [][2]string
	for _, name := range Names {
		if v, n := h.Get(name); n == 1 && Valid(name, v) {
			out = append(out, [2]string{name, v})
		}
	}
	return out
}

// Valid reports whether value is a well-formed value of the trace header
// name: traceparent as W3C version-00 form with a version other than ff and
// non-zero ids; every other one 1 to MaxValueBytes bytes of printable ASCII
// (0x20-0x7E). An empty value carries no trace and is not copied.
func Valid(name, value string) bool {
	if name == "traceparent" {
		return validTraceparent(value)
	}
	if len(value) == 0 || len(value) > MaxValueBytes {
		return false
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// validTraceparent matches ^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$
// with version not ff and trace id and parent id not all zeros.
func validTraceparent(v string) bool {
	// version(2) - trace-id(32) - parent-id(16) - flags(2)
	if len(v) != 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return false
	}
	version, traceID, parentID, flags := v[0:2], v[3:35], v[36:52], v[53:55]
	for _, f := range [...]string{version, traceID, parentID, flags} {
		if !lowerHex(f) {
			return false
		}
	}
	return version != "ff" && !zeros(traceID) && !zeros(parentID)
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func zeros(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// Package metrics names what the filter reports to operators (SPEC §2.9):
// the metric names with their tags in the `name=.=value;.;` convention that
// Envoy's stats_tags and Istio's extraStatTags extract, the outcome names,
// the filter-state keys, the response-code details, and the log level of
// each answer. It is pure: the plugin defines and records the metrics.
package metrics

import (
	"strings"

	"github.com/firmly/session-transfer-filter/internal/apierror"
)

// Metric names, without tags. Envoy puts them under "wasmcustom.".
const (
	Requests         = "session_transfer.requests"
	MerchantExportMs = "session_transfer.merchant_export_ms"
	BackendWriteMs   = "session_transfer.backend_write_ms"
	DurationMs       = "session_transfer.duration_ms"
	TokenCacheHits   = "session_transfer.token_cache_hits"
	TokenCacheMisses = "session_transfer.token_cache_misses"
	JWKSFetchSuccess = "session_transfer.jwks_fetch_success"
	JWKSFetchFailure = "session_transfer.jwks_fetch_failure"
)

// Tag names as they appear inside a metric name.
const (
	TagOutcome  = "session_transfer_outcome"
	TagMerchant = "session_transfer_merchant"
)

// Outcomes besides the error names of SPEC §2.8.
const (
	Transferred = "transferred"
	// NoMerchant is the merchant tag of a request refused before a
	// configured merchant was known, so callers cannot mint metric names.
	NoMerchant = "none"
)

// Filter-state keys the filter sets with proxy_set_property; Envoy stores
// them as filter state "wasm.<key>".
const (
	StateOutcome        = "session_transfer.outcome"
	StateMerchant       = "session_transfer.merchant"
	StateMerchantStatus = "session_transfer.merchant_status"
)

// Tag renders one tag in the `name=.=value;.;` convention.
func Tag(name, value string) string { return name + "=.=" + value + ";.;" }

// RequestsName is the per-outcome, per-merchant request counter.
func RequestsName(outcome, merchant string) string {
	return Tag(TagOutcome, outcome) + Tag(TagMerchant, merchant) + Requests
}

// MerchantName is a per-merchant metric (the three histograms).
func MerchantName(metric, merchant string) string {
	return Tag(TagMerchant, merchant) + metric
}

// Details is the response-code details of a local reply: no whitespace, so
// Envoy keeps it as is and %RESPONSE_CODE_DETAILS% tells outcomes apart.
func Details(outcome string) string { return "session_transfer." + outcome }

// Level is how loud an answer is logged.
type Level int

const (
	Debug Level = iota
	Info
	Warn
)

// LevelOf decides the log level of an answer: warn for 5xx, info for a
// transfer and for the merchant's own refusals (a 4xx decided after the
// export call answered), debug for client errors decided before any
// callout, so a flood of bad requests cannot flood the log.
func LevelOf(status int, afterExport bool) Level {
	switch {
	case status >= 500:
		return Warn
	case status < 400, afterExport:
		return Info
	}
	return Debug
}

// MaxLogLine bounds every log line (SPEC §2.8).
const MaxLogLine = 2048

// Sanitise makes a client-supplied value safe for a log field: control
// characters and spaces become '_' and the value is cut to n bytes, so one
// field cannot forge another or a second line.
func Sanitise(s string, n int) string {
	s = apierror.Cut(s, n)
	if strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}

// Printable replaces control characters with '?', so a description that
// quotes a merchant's data cannot start a forged log line.
func Printable(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return '?'
		}
		return r
	}, s)
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

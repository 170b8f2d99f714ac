// Package metrics names what the filter reports to operators (SPEC §2.9):
// the metric names with their tags in the `name=.=value;.;` convention that
// Envoy's stats_tags and Istio's extraStatTags extract, the outcome names,
// the filter-state keys, the response-code details, and the log level of
// each answer. It is pure: the plugin defines and records the metrics.
package metrics

import "github.com/firmly/session-transfer-filter/internal/apierror"

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
	// JWKSKeysSkipped counts remote keys left out of a fetched set for
	// breaking a key rule (SPEC §2.2b).
	JWKSKeysSkipped = "session_transfer.jwks_keys_skipped"
	// JWKSRefetchOnUnknownKid counts the fetches a token with an unknown
	// kid caused (SPEC §2.2b), not the scheduled ones.
	JWKSRefetchOnUnknownKid = "session_transfer.jwks_refetch_on_unknown_kid"
	// JWKSVMsWithoutRemoteKeys is a gauge: the worker VMs whose remote key
	// set has not loaded yet. Each VM adds one on its first tick and takes
	// it back on its first successful fetch (or when it stops), so the sum
	// over a process's VMs shows "no keys on some VM", which a gauge each VM
	// set to its own key count could not (the VMs would overwrite it).
	JWKSVMsWithoutRemoteKeys = "session_transfer.jwks_vms_without_remote_keys"
)

// VMCounters are the counters that carry no tag.
var VMCounters = []string{
	TokenCacheHits, TokenCacheMisses, JWKSFetchSuccess, JWKSFetchFailure, JWKSKeysSkipped, JWKSRefetchOnUnknownKid,
}

// Gauges are the gauges that carry no tag.
var Gauges = []string{JWKSVMsWithoutRemoteKeys}

// MerchantOutcomes are the outcomes a request can have once its configured
// merchant is known: the body and size checks, the export's and the
// write's answers, and a recovered panic.
var MerchantOutcomes = []string{
	Transferred,
	apierror.InvalidInputBody.Name, apierror.PayloadTooLarge.Name, apierror.CannotTransferSession.Name,
	apierror.NoLineItem.Name, apierror.NotEnoughStock.Name, apierror.Internal.Name,
	apierror.InvalidMerchantResponse.Name, apierror.StoreUnavailable.Name, apierror.SessionStoreUnavailable.Name,
}

// NoMerchantOutcomes are the outcomes decided before a configured merchant
// is known (merchant "none"): the path, the method, the token, the domain,
// a merchant that is not configured, and a recovered panic.
var NoMerchantOutcomes = []string{
	apierror.InvalidInputBody.Name, apierror.MissingAuthHeader.Name, apierror.MethodNotAllowed.Name,
	apierror.AuthUnavailable.Name, apierror.CannotTransferSession.Name, apierror.Internal.Name,
}

// Histograms are the per-merchant histograms.
var Histograms = []string{MerchantExportMs, BackendWriteMs, DurationMs}

// Series is every metric name the plugin defines when it starts (SPEC
// §2.9), so each series exists at 0 before its first event and rate() and
// alerts see it from the start.
type Series struct {
	Counters, Histograms, Gauges []string
}

// StartSeries lists the series for the configured merchants (normalised
// domains): requests for each merchant and each of MerchantOutcomes and
// for "none" and each of NoMerchantOutcomes, the three histograms for
// each merchant and duration_ms for "none" (its refusals are timed too),
// and the untagged counters and gauges.
func StartSeries(merchants []string) Series {
	var s Series
	for _, m := range merchants {
		for _, o := range MerchantOutcomes {
			s.Counters = append(s.Counters, RequestsName(o, m))
		}
		for _, h := range Histograms {
			s.Histograms = append(s.Histograms, MerchantName(h, m))
		}
	}
	for _, o := range NoMerchantOutcomes {
		s.Counters = append(s.Counters, RequestsName(o, NoMerchant))
	}
	s.Histograms = append(s.Histograms, MerchantName(DurationMs, NoMerchant))
	s.Counters = append(s.Counters, VMCounters...)
	s.Gauges = append(s.Gauges, Gauges...)
	return s
}

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
	// Set once the device is authenticated, so access logs and later
	// filters can tell callers apart; app_id and kid only when the token
	// has them.
	StateDeviceID = "session_transfer.device_id"
	StateAppID    = "session_transfer.app_id"
	StateKid      = "session_transfer.kid"
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

// LogLine makes msg one line of printable ASCII (SPEC §2.8): every byte
// outside 0x20–0x7E (C0 and C1 controls, DEL, every byte of non-ASCII text
// such as U+2028/2029 or U+202E, invalid UTF-8) is written as \xHH, so a
// terminal shows the line as is and no field can forge another line. The
// result is at most MaxLogLine bytes, cut before an escape, never inside
// one. A line that needs nothing is returned as is, without allocating.
func LogLine(msg string) string {
	clean := len(msg) <= MaxLogLine
	for i := 0; clean && i < len(msg); i++ {
		clean = msg[i] >= 0x20 && msg[i] <= 0x7e
	}
	if clean {
		return msg
	}
	const hex = "0123456789abcdef"
	b := make([]byte, 0, min(len(msg)+32, MaxLogLine))
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c >= 0x20 && c <= 0x7e {
			if len(b)+1 > MaxLogLine {
				break
			}
			b = append(b, c)
			continue
		}
		if len(b)+4 > MaxLogLine {
			break
		}
		b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
	}
	return string(b)
}

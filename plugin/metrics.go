package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/firmly/session-transfer-filter/internal/metrics"
)

// vmMetrics defines every metric through proxy_define_metric when the
// plugin starts (defineAll) and caches the id by name, so a request never
// pays a define call. A name not defined at start is defined on its first
// use. Names are bounded: tags only ever carry a configured merchant (or
// "none") and a catalogued outcome.
type vmMetrics struct {
	counters   map[string]proxywasm.MetricCounter
	histograms map[string]proxywasm.MetricHistogram
	gauges     map[string]proxywasm.MetricGauge
	// The names of tagged metrics and the response-code details, by their
	// parts, so a request does not build them again (each was a string
	// concatenation, an allocation per answer).
	requests map[[2]string]string // {outcome, merchant}
	merchant map[[2]string]string // {metric, merchant}
	detail   map[string]string    // outcome
}

// newVMMetrics is created once per VM, by the VM context.
func newVMMetrics() *vmMetrics {
	return &vmMetrics{
		counters: map[string]proxywasm.MetricCounter{}, histograms: map[string]proxywasm.MetricHistogram{},
		gauges:   map[string]proxywasm.MetricGauge{},
		requests: map[[2]string]string{}, merchant: map[[2]string]string{}, detail: map[string]string{},
	}
}

// incRequests counts an answer: metrics.RequestsName(outcome, merchant).
func (m *vmMetrics) incRequests(outcome, merchant string) {
	k := [2]string{outcome, merchant}
	name, ok := m.requests[k]
	if !ok {
		name = metrics.RequestsName(outcome, merchant)
		m.requests[k] = name
	}
	m.inc(name)
}

// recordMerchant records a sample of metrics.MerchantName(metric, merchant).
func (m *vmMetrics) recordMerchant(metric, merchant string, v uint64) {
	k := [2]string{metric, merchant}
	name, ok := m.merchant[k]
	if !ok {
		name = metrics.MerchantName(metric, merchant)
		m.merchant[k] = name
	}
	m.record(name, v)
}

// details is metrics.Details(outcome), kept per outcome.
func (m *vmMetrics) details(outcome string) string {
	d, ok := m.detail[outcome]
	if !ok {
		d = metrics.Details(outcome)
		m.detail[outcome] = d
	}
	return d
}

// defineAll defines every series of s at plugin start (SPEC §2.9), so each
// exists at 0 before its first event and rate() and alerts see it from the
// start. A name already defined in this VM costs no hostcall.
func (m *vmMetrics) defineAll(s metrics.Series) {
	for _, name := range s.Counters {
		m.counter(name)
	}
	for _, name := range s.Histograms {
		m.histogram(name)
	}
	for _, name := range s.Gauges {
		m.gauge(name)
	}
}

func (m *vmMetrics) counter(name string) (c proxywasm.MetricCounter) {
	defer m.survive(name)
	c, ok := m.counters[name]
	if !ok {
		c = proxywasm.DefineCounterMetric(name)
		m.counters[name] = c
	}
	return c
}

func (m *vmMetrics) histogram(name string) (h proxywasm.MetricHistogram) {
	defer m.survive(name)
	h, ok := m.histograms[name]
	if !ok {
		h = proxywasm.DefineHistogramMetric(name)
		m.histograms[name] = h
	}
	return h
}

func (m *vmMetrics) gauge(name string) (g proxywasm.MetricGauge) {
	defer m.survive(name)
	g, ok := m.gauges[name]
	if !ok {
		g = proxywasm.DefineGaugeMetric(name)
		m.gauges[name] = g
	}
	return g
}

// addGauge adds delta (negative to take back) to a gauge that every VM of
// the process shares.
func (m *vmMetrics) addGauge(name string, delta int64) {
	defer m.survive(name)
	m.gauge(name).Add(delta)
}

// inc adds one to a counter (defined at start, or on first use). The remote-JWKS
// fetch and the token cache report through it too.
func (m *vmMetrics) inc(name string) {
	defer m.survive(name)
	m.counter(name).Increment(1)
}

// record adds a sample to a histogram (defined at start, or on first use).
func (m *vmMetrics) record(name string, v uint64) {
	defer m.survive(name)
	m.histogram(name).Record(v)
}

// survive keeps a failing metric hostcall (the SDK panics on one) from
// failing the request it reports on.
func (m *vmMetrics) survive(name string) {
	if r := recover(); r != nil {
		logf(levelWarn, "session-transfer: metric %s: %v", name, r)
	}
}

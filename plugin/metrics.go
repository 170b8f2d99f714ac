package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/firmly/session-transfer-filter/internal/metrics"
)

// vmMetrics defines each metric through proxy_define_metric on its first
// use and caches the id by name, so a request never pays a define call for
// a name already used in this VM. Names are bounded: tags only ever carry
// a configured merchant (or "none") and a catalogued outcome.
type vmMetrics struct {
	counters   map[string]proxywasm.MetricCounter
	histograms map[string]proxywasm.MetricHistogram
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

// inc adds one to a counter, defining it on first use. The remote-JWKS
// fetch and the token cache report through it too.
func (m *vmMetrics) inc(name string) {
	defer m.survive(name)
	c, ok := m.counters[name]
	if !ok {
		c = proxywasm.DefineCounterMetric(name)
		m.counters[name] = c
	}
	c.Increment(1)
}

// record adds a sample to a histogram, defining it on first use.
func (m *vmMetrics) record(name string, v uint64) {
	defer m.survive(name)
	h, ok := m.histograms[name]
	if !ok {
		h = proxywasm.DefineHistogramMetric(name)
		m.histograms[name] = h
	}
	h.Record(v)
}

// survive keeps a failing metric hostcall (the SDK panics on one) from
// failing the request it reports on.
func (m *vmMetrics) survive(name string) {
	if r := recover(); r != nil {
		logf(levelWarn, "session-transfer: metric %s: %v", name, r)
	}
}

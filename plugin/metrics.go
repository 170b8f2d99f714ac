package main

import (
	"github.com/firmly/session-transfer-filter/internal/metrics"
	"github.com/firmly/session-transfer-filter/plugin/bridge"
)

// vmMetrics defines every metric through proxy_define_metric when the
// plugin starts (defineAll) and caches the id by name, so a request never
// pays a define call. A name not defined at start is defined on its first
// use. Names are bounded: tags only ever carry a configured merchant (or
// "none") and a catalogued outcome.
type vmMetrics struct {
	// Metric ids by name. The hostcalls go through the bridge, not the
	// SDK's metric types, whose failures are panics formatted with fmt.
	counters   map[string]uint32
	histograms map[string]uint32
	gauges     map[string]uint32
	// The names of tagged metrics and the response-code details, by their
	// parts, so a request does not build them again (each was a string
	// concatenation, an allocation per answer).
	requests map[[2]string]string // {outcome, merchant}
	merchant map[[2]string]string // {metric, merchant}
	detail   map[string]string    // outcome
	// The ids of those tagged names once defined, so an answer's counter
	// and histogram cost one map lookup each, not two (a 401 spent 1.0-1.2
	// µs on each under wazero).
	requestIDs  map[[2]string]uint32
	merchantIDs map[[2]string]uint32
}

// newVMMetrics is created once per VM, by the VM context.
func newVMMetrics() *vmMetrics {
	return &vmMetrics{
		counters: map[string]uint32{}, histograms: map[string]uint32{},
		gauges:   map[string]uint32{},
		requests: map[[2]string]string{}, merchant: map[[2]string]string{}, detail: map[string]string{},
		requestIDs: map[[2]string]uint32{}, merchantIDs: map[[2]string]uint32{},
	}
}

// incRequests counts an answer: metrics.RequestsName(outcome, merchant).
func (m *vmMetrics) incRequests(outcome, merchant string) {
	k := [2]string{outcome, merchant}
	if id, ok := m.requestIDs[k]; ok {
		if err := bridge.IncrementMetric(id, 1); err != nil {
			m.failed(m.requests[k], err)
		}
		return
	}
	name, ok := m.requests[k]
	if !ok {
		name = metrics.RequestsName(outcome, merchant)
		m.requests[k] = name
	}
	m.inc(name)
	if id, ok := m.counters[name]; ok {
		m.requestIDs[k] = id
	}
}

// recordMerchant records a sample of metrics.MerchantName(metric, merchant).
func (m *vmMetrics) recordMerchant(metric, merchant string, v uint64) {
	k := [2]string{metric, merchant}
	if id, ok := m.merchantIDs[k]; ok {
		if err := bridge.RecordMetric(id, v); err != nil {
			m.failed(m.merchant[k], err)
		}
		return
	}
	name, ok := m.merchant[k]
	if !ok {
		name = metrics.MerchantName(metric, merchant)
		m.merchant[k] = name
	}
	m.record(name, v)
	if id, ok := m.histograms[name]; ok {
		m.merchantIDs[k] = id
	}
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

func (m *vmMetrics) counter(name string) uint32 {
	return m.define(m.counters, bridge.Counter, name)
}

func (m *vmMetrics) histogram(name string) uint32 {
	return m.define(m.histograms, bridge.Histogram, name)
}

func (m *vmMetrics) gauge(name string) uint32 {
	return m.define(m.gauges, bridge.Gauge, name)
}

// define returns the id of name in ids, defining it on first use. A failed
// define is logged, not kept: the next use tries again, and this one goes
// on with id 0, as it did when the SDK's panic was recovered here.
func (m *vmMetrics) define(ids map[string]uint32, kind bridge.MetricKind, name string) uint32 {
	defer m.survive(name)
	id, ok := ids[name]
	if !ok {
		var err error
		if id, err = bridge.DefineMetric(kind, name); err != nil {
			m.failed(name, err)
			return 0
		}
		ids[name] = id
	}
	return id
}

// addGauge adds delta (negative to take back) to a gauge that every VM of
// the process shares.
func (m *vmMetrics) addGauge(name string, delta int64) {
	defer m.survive(name)
	if err := bridge.IncrementMetric(m.gauge(name), delta); err != nil {
		m.failed(name, err)
	}
}

// inc adds one to a counter (defined at start, or on first use). The remote-JWKS
// fetch and the token cache report through it too.
func (m *vmMetrics) inc(name string) {
	defer m.survive(name)
	if err := bridge.IncrementMetric(m.counter(name), 1); err != nil {
		m.failed(name, err)
	}
}

// record adds a sample to a histogram (defined at start, or on first use).
func (m *vmMetrics) record(name string, v uint64) {
	defer m.survive(name)
	if err := bridge.RecordMetric(m.histogram(name), v); err != nil {
		m.failed(name, err)
	}
}

// failed logs a failing metric hostcall; it never fails the request it
// reports on.
func (m *vmMetrics) failed(name string, err error) {
	logf(levelWarn, "session-transfer: metric %s: %v", name, err)
}

// survive keeps a panic in a metric's bookkeeping from failing the request
// it reports on.
func (m *vmMetrics) survive(name string) {
	if r := recover(); r != nil {
		logf(levelWarn, "session-transfer: metric %s: %v", name, r)
	}
}

package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
)

// vmMetrics defines each metric through proxy_define_metric on its first
// use and caches the id by name, so a request never pays a define call for
// a name already used in this VM. Names are bounded: tags only ever carry
// a configured merchant (or "none") and a catalogued outcome.
type vmMetrics struct {
	counters   map[string]proxywasm.MetricCounter
	histograms map[string]proxywasm.MetricHistogram
}

// newVMMetrics is created once per VM, by the VM context.
func newVMMetrics() *vmMetrics {
	return &vmMetrics{counters: map[string]proxywasm.MetricCounter{}, histograms: map[string]proxywasm.MetricHistogram{}}
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

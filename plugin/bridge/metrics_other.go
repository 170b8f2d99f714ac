//go:build !wasip1 || tinygo

package bridge

import (
	"errors"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
)

// MetricKind is proxy_define_metric's metric type.
type MetricKind uint32

// The metric kinds of the proxy-wasm ABI.
const (
	Counter   MetricKind = 0
	Gauge     MetricKind = 1
	Histogram MetricKind = 2
)

// DefineMetric falls back to the SDK on other platforms, so native
// proxytest tests see the metrics; its panics become errors, as the wasip1
// build returns them (metrics.go).
func DefineMetric(kind MetricKind, name string) (id uint32, err error) {
	defer asError(&err)
	switch kind {
	case Counter:
		return uint32(proxywasm.DefineCounterMetric(name)), nil
	case Gauge:
		return uint32(proxywasm.DefineGaugeMetric(name)), nil
	}
	return uint32(proxywasm.DefineHistogramMetric(name)), nil
}

// IncrementMetric is the SDK's gauge Add (a counter's Increment makes the
// same hostcall).
func IncrementMetric(id uint32, offset int64) (err error) {
	defer asError(&err)
	proxywasm.MetricGauge(id).Add(offset)
	return nil
}

// RecordMetric is the SDK's histogram Record.
func RecordMetric(id uint32, value uint64) (err error) {
	defer asError(&err)
	proxywasm.MetricHistogram(id).Record(value)
	return nil
}

// asError turns the SDK's panic into *err.
func asError(err *error) {
	switch r := recover().(type) {
	case nil:
	case error:
		*err = r
	case string:
		*err = errors.New(r)
	default:
		panic(r)
	}
}

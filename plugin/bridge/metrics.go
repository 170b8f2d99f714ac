//go:build wasip1 && !tinygo

package bridge

import "unsafe"

// The metric hostcalls, returning errors: the SDK's Define*Metric,
// Increment, Add and Record panic with a message built by fmt.Sprintf, and
// that call alone kept fmt (and reflect) in plugin.wasm once the filter's
// own code no longer used it (docs/performance.md, "Size").

// MetricKind is proxy_define_metric's metric type.
type MetricKind uint32

// The metric kinds of the proxy-wasm ABI.
const (
	Counter   MetricKind = 0
	Gauge     MetricKind = 1
	Histogram MetricKind = 2
)

// DefineMetric defines (or finds) the metric name of kind and returns its id.
func DefineMetric(kind MetricKind, name string) (uint32, error) {
	var id uint32
	st := proxyDefineMetric(uint32(kind), unsafe.StringData(name), uint32(len(name)), &id)
	return id, statusError("proxy_define_metric", st)
}

// IncrementMetric adds offset to a counter or a gauge (negative only for a
// gauge).
func IncrementMetric(id uint32, offset int64) error {
	return statusError("proxy_increment_metric", proxyIncrementMetric(id, offset))
}

// RecordMetric adds a sample to a histogram.
func RecordMetric(id uint32, value uint64) error {
	return statusError("proxy_record_metric", proxyRecordMetric(id, value))
}

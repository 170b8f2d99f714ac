// Package monitoring holds the Prometheus alert rules (alerts.yaml) and the
// Grafana dashboard (dashboard.json) that ship with the Session Transfer
// filter, and their tests: every rule and every dashboard query parses with
// Prometheus' own parsers and names only series that the local stack's
// /stats/prometheus exposes (testdata/series.txt, written from a scrape of
// the local stack by the main module's TestLocalStackSeriesForMonitoring).
//
// It is a module of its own because Prometheus is a heavy dependency that
// the filter's module and plugin.wasm must not carry.
package monitoring

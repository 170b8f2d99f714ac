package envoyhost

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// StatsTag is one stats_config.stats_tags entry: Regex's first capture is
// cut out of the stat name, its second is the tag's value.
type StatsTag struct {
	Name  string
	Regex *regexp.Regexp
}

// customNamespace is where Envoy puts metrics a Wasm module defines.
// Prometheus output strips it and adds no envoy_ prefix (Envoy's custom
// stat namespaces), so wasmcustom.x is exported as x.
const customNamespace = "wasmcustom."

// defaultBuckets are Envoy's default histogram buckets.
var defaultBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

type tag struct{ name, value string }

// extractTags applies the stats tags in order, as Envoy's tag producer does.
func (h *Host) extractTags(name string) (string, []tag) {
	var tags []tag
	for _, t := range h.cfg.StatsTags {
		m := t.Regex.FindStringSubmatchIndex(name)
		if m == nil || len(m) < 6 || m[4] < 0 {
			continue
		}
		tags = append(tags, tag{t.Name, name[m[4]:m[5]]})
		name = name[:m[2]] + name[m[3]:]
	}
	return name, tags
}

type statSnapshot struct {
	name    string // full name, wasmcustom. included
	kind    uint32
	value   uint64
	samples []uint64
}

func (h *Host) snapshot() []statSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]statSnapshot, 0, len(h.metrics))
	for _, m := range h.metrics {
		out = append(out, statSnapshot{customNamespace + m.name, m.kind, m.value, append([]uint64(nil), m.samples...)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// StatsText renders the metrics as Envoy's /stats does: counters and
// gauges as "name: value", then histograms with their quantiles
// (cumulative; the host has no flush interval).
func (h *Host) StatsText() string {
	var b strings.Builder
	stats := h.snapshot()
	for _, s := range stats {
		if s.kind != metricHistogram {
			fmt.Fprintf(&b, "%s: %d\n", s.name, s.value)
		}
	}
	for _, s := range stats {
		if s.kind != metricHistogram {
			continue
		}
		if len(s.samples) == 0 {
			fmt.Fprintf(&b, "%s: No recorded values\n", s.name)
			continue
		}
		sorted := s.samples // snapshot's own copy
		slices.Sort(sorted)
		b.WriteString(s.name + ":")
		for _, q := range []float64{0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100} {
			i := int(math.Ceil(q/100*float64(len(sorted)))) - 1
			fmt.Fprintf(&b, " P%s(nan,%d)", strconv.FormatFloat(q, 'f', -1, 64), sorted[max(i, 0)])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

var promUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// StatsPrometheus renders the metrics as Envoy's /stats/prometheus does:
// tags extracted into labels, names sanitised, one # TYPE line per family,
// histograms as cumulative _bucket lines with Envoy's default buckets,
// then _sum and _count.
func (h *Host) StatsPrometheus() string {
	type series struct {
		labels string
		s      statSnapshot
	}
	families := map[string][]series{}
	for _, s := range h.snapshot() {
		// Every metric here is a wasm custom one: Envoy strips the
		// namespace and adds no envoy_ prefix.
		bare, tags := h.extractTags(s.name)
		name := promUnsafe.ReplaceAllString(strings.TrimPrefix(bare, customNamespace), "_")
		var l []string
		for _, t := range tags {
			l = append(l, fmt.Sprintf("%s=%q", promUnsafe.ReplaceAllString(t.name, "_"), t.value))
		}
		families[name] = append(families[name], series{strings.Join(l, ","), s})
	}
	names := make([]string, 0, len(families))
	for n := range families {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	braces := func(labels, extra string) string {
		// Envoy writes the braces even when a series has no label.
		switch {
		case labels == "" && extra == "":
			return "{}"
		case labels == "":
			return "{" + extra + "}"
		case extra == "":
			return "{" + labels + "}"
		}
		return "{" + labels + "," + extra + "}"
	}
	for _, n := range names {
		kind := families[n][0].s.kind
		switch kind {
		case metricCounter:
			fmt.Fprintf(&b, "# TYPE %s counter\n", n)
		case metricGauge:
			fmt.Fprintf(&b, "# TYPE %s gauge\n", n)
		default:
			fmt.Fprintf(&b, "# TYPE %s histogram\n", n)
		}
		for _, sr := range families[n] {
			if kind != metricHistogram {
				fmt.Fprintf(&b, "%s%s %d\n", n, braces(sr.labels, ""), sr.s.value)
				continue
			}
			var sum float64
			for _, v := range sr.s.samples {
				sum += float64(v)
			}
			for _, le := range defaultBuckets {
				c := 0
				for _, v := range sr.s.samples {
					if float64(v) <= le {
						c++
					}
				}
				fmt.Fprintf(&b, "%s_bucket%s %d\n", n, braces(sr.labels, `le="`+strconv.FormatFloat(le, 'f', -1, 64)+`"`), c)
			}
			fmt.Fprintf(&b, "%s_bucket%s %d\n", n, braces(sr.labels, `le="+Inf"`), len(sr.s.samples))
			fmt.Fprintf(&b, "%s_sum%s %s\n", n, braces(sr.labels, ""), strconv.FormatFloat(sum, 'g', -1, 64))
			fmt.Fprintf(&b, "%s_count%s %d\n", n, braces(sr.labels, ""), len(sr.s.samples))
		}
	}
	return b.String()
}

// AdminHandler serves the part of Envoy's admin interface the local run
// offers: /ready, /stats and /stats/prometheus.
func (h *Host) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "text/plain; charset=UTF-8")
		fmt.Fprintln(w, "LIVE")
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "text/plain; charset=UTF-8")
		fmt.Fprint(w, h.StatsText())
	})
	mux.HandleFunc("/stats/prometheus", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "text/plain; charset=UTF-8")
		fmt.Fprint(w, h.StatsPrometheus())
	})
	return mux
}

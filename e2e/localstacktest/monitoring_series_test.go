package localstacktest

import (
	"flag"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
)

var updateSeries = flag.Bool("update-series", false, "rewrite e2e/monitoring/testdata/series.txt from the local stack")

const seriesFile = "../monitoring/testdata/series.txt"

var promSample = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? `)
var promLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)

// seriesNames reduces a /stats/prometheus page to its metric names, each
// with the label names it has, one "name label..." line per name, sorted.
func seriesNames(page string) string {
	labels := map[string][]string{}
	for _, line := range strings.Split(page, "\n") {
		m := promSample.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ls := labels[m[1]]
		for _, l := range promLabel.FindAllStringSubmatch(m[2], -1) {
			if !slices.Contains(ls, l[1]) {
				ls = append(ls, l[1])
			}
		}
		slices.Sort(ls)
		labels[m[1]] = ls
	}
	var lines []string
	for name, ls := range labels {
		lines = append(lines, strings.Join(append([]string{name}, ls...), " "))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// The monitoring kit (e2e/monitoring, a module of its own because of
// Prometheus) checks its alert rules and dashboard against the series the
// local stack exposes: this scrape, right after start, is that list.
// go test ./e2e/localstacktest -run TestLocalStackSeriesForMonitoring -update-series rewrites it.
func TestLocalStackSeriesForMonitoring(t *testing.T) {
	st := e2etest.StartLocal(t)
	resp, err := http.Get(st.AdminURL + "/stats/prometheus")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	got := seriesNames(string(page))
	if !strings.Contains(got, "session_transfer_requests merchant outcome\n") {
		t.Fatalf("the scrape lacks session_transfer_requests with its labels:\n%s", got)
	}
	if *updateSeries {
		if err := os.WriteFile(seriesFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(seriesFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the local stack's series (rerun with -update-series, then go test in e2e/monitoring):\ngot\n%s\nwant\n%s", seriesFile, got, want)
	}
}

package monitoring

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// promql is Prometheus' own PromQL parser, with its default options.
var promql = parser.NewParser(parser.Options{})

// exposed reads testdata/series.txt: per metric name, the label names it
// has in the local stack's /stats/prometheus.
func exposed(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("testdata/series.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		out[fields[0]] = append(out[fields[0]], fields[1:]...)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("testdata/series.txt lists no series")
	}
	return out
}

// checkNames parses expr with Prometheus' PromQL parser and checks that
// every selector names an exposed metric and only labels it has.
func checkNames(t *testing.T, where, expr string, series map[string][]string) {
	t.Helper()
	e, err := promql.ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", where, expr, err)
		return
	}
	sels := parser.ExtractSelectors(e)
	if len(sels) == 0 {
		t.Errorf("%s: %q selects no series", where, expr)
	}
	for _, sel := range sels {
		name := ""
		for _, m := range sel {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		have, ok := series[name]
		if !ok {
			t.Errorf("%s: %q names %q, which the local stack does not expose", where, expr, name)
			continue
		}
		for _, m := range sel {
			if m.Name != labels.MetricName && !slices.Contains(have, m.Name) {
				t.Errorf("%s: %q matches label %q, which %s does not have (it has %v)", where, expr, m.Name, name, have)
			}
		}
	}
	// Labels an aggregation keeps must exist too, or the panel's legend
	// and the alert's labels are empty.
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if a, ok := n.(*parser.AggregateExpr); ok {
			for _, l := range a.Grouping {
				found := false
				for _, sel := range parser.ExtractSelectors(a.Expr) {
					for _, m := range sel {
						if m.Name == labels.MetricName {
							found = found || slices.Contains(series[m.Value], l)
						}
					}
				}
				if !found && l != "instance" { // instance is the scrape target's, added by Prometheus
					t.Errorf("%s: %q groups by %q, which no series it aggregates has", where, expr, l)
				}
			}
		}
		return nil
	})
}

func TestAlertRules(t *testing.T) {
	series := exposed(t)
	groups, errs := rulefmt.ParseFile("alerts.yaml", false, model.UTF8Validation, promql, nil)
	for _, err := range errs {
		t.Errorf("alerts.yaml: %v", err)
	}
	if groups == nil {
		t.FailNow()
	}
	var names []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
			checkNames(t, "alert "+r.Alert, r.Expr, series)
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert %s: want a severity label and a summary", r.Alert)
			}
		}
	}
	for _, want := range []string{"SessionTransferNoKeysLoaded", "SessionTransferJWKSFetchFailing", "SessionTransferErrorRatioHigh", "SessionTransferMerchantExportSlow"} {
		if !slices.Contains(names, want) {
			t.Errorf("alerts.yaml has no %s (it has %v)", want, names)
		}
	}
}

type panel struct {
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	ID      int     `json:"id"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

// grafanaVars stand in for the dashboard's variables, as Grafana would
// interpolate them, so the query text parses as PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$merchant", "staging.luma.gift")

func TestDashboard(t *testing.T) {
	series := exposed(t)
	raw, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title      string  `json:"title"`
		UID        string  `json:"uid"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Error("dashboard.json has no title or uid")
	}
	ids := map[int]bool{}
	queries := 0
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel %q: id %d is used twice", p.Title, p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				queries++
				checkNames(t, "panel "+p.Title+" "+tg.RefID, grafanaVars.Replace(tg.Expr), series)
			}
		}
	}
	walk(d.Panels)
	if queries < 10 {
		t.Errorf("%d queries, want the dashboard to cover the metrics", queries)
	}
	for _, v := range d.Templating.List {
		if v.Definition == "" {
			continue
		}
		// label_values(<metric>, <label>)
		inner := strings.TrimSuffix(strings.TrimPrefix(v.Definition, "label_values("), ")")
		metric, label, ok := strings.Cut(inner, ",")
		if !ok || !slices.Contains(series[strings.TrimSpace(metric)], strings.TrimSpace(label)) {
			t.Errorf("variable %s: %q names no exposed metric and label", v.Name, v.Definition)
		}
	}
}

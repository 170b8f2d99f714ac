package metrics

import (
	"regexp"
	"testing"

	"github.com/firmly/session-transfer-filter/internal/apierror"
)

// The names carry SPEC §2.9's tags, and envoy.yaml's stats_tags regexes
// extract them back to the bare metric name.
func TestNamesAreExtractedByTheStatsTagRegexes(t *testing.T) {
	outcome := regexp.MustCompile(`(session_transfer_outcome=\.=(.*?);\.;)`)
	merchant := regexp.MustCompile(`(session_transfer_merchant=\.=(.*?);\.;)`)
	extract := func(name string) (string, map[string]string) {
		tags := map[string]string{}
		for tag, re := range map[string]*regexp.Regexp{"outcome": outcome, "merchant": merchant} {
			if m := re.FindStringSubmatchIndex(name); m != nil {
				tags[tag] = name[m[4]:m[5]]
				name = name[:m[2]] + name[m[3]:]
			}
		}
		return name, tags
	}
	for _, c := range []struct {
		name, bare, outcome, merchant string
	}{
		{RequestsName(Transferred, "staging.luma.gift"), Requests, "transferred", "staging.luma.gift"},
		{RequestsName("MissingAuthHeader", NoMerchant), Requests, "MissingAuthHeader", "none"},
		{MerchantName(DurationMs, "a.example"), DurationMs, "", "a.example"},
		{MerchantName(MerchantExportMs, "a.example"), MerchantExportMs, "", "a.example"},
		{MerchantName(BackendWriteMs, "a.example"), BackendWriteMs, "", "a.example"},
	} {
		bare, tags := extract(c.name)
		if bare != c.bare || tags["outcome"] != c.outcome || tags["merchant"] != c.merchant {
			t.Errorf("%s: got %s %v, want %s outcome=%q merchant=%q", c.name, bare, tags, c.bare, c.outcome, c.merchant)
		}
	}
	if got, want := RequestsName(Transferred, "staging.luma.gift"),
		"session_transfer_outcome=.=transferred;.;session_transfer_merchant=.=staging.luma.gift;.;session_transfer.requests"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestDetailsHaveNoWhitespace(t *testing.T) {
	ws := regexp.MustCompile(`\s`)
	for _, k := range append(apierror.All, apierror.Kind{Name: Transferred}) {
		if d := Details(k.Name); ws.MatchString(d) || d != "session_transfer."+k.Name {
			t.Errorf("details %q", d)
		}
	}
}

func TestLevelOf(t *testing.T) {
	for _, c := range []struct {
		name        string
		status      int
		afterExport bool
		want        Level
	}{
		{"a transfer is info", 200, true, Info},
		{"a 401 before any callout is debug", 401, false, Debug},
		{"a 400, 405 or 413 before any callout is debug", 413, false, Debug},
		{"an unconfigured merchant's 422 is debug", 422, false, Debug},
		{"the merchant's own 422 is info", 422, true, Info},
		{"a 503 is warn", 503, true, Warn},
		{"a 500 before any callout is warn", 500, false, Warn},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := LevelOf(c.status, c.afterExport); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestSanitise(t *testing.T) {
	if got := Sanitise("req 1\nlevel=info", 64); got != "req_1_level=info" {
		t.Errorf("got %q", got)
	}
	if got := Sanitise("abcdef", 3); got != "abc" {
		t.Errorf("got %q", got)
	}
}

func TestPrintable(t *testing.T) {
	if got := Printable("not enough stock for A\nlevel=info B"); got != "not enough stock for A?level=info B" {
		t.Errorf("got %q", got)
	}
	if got := Printable("plain text"); got != "plain text" {
		t.Errorf("got %q", got)
	}
}

package metrics

import (
	"fmt"
	"regexp"
	"strings"
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

func TestLogLine(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain text is kept", "request_id=req-1 status=200", "request_id=req-1 status=200"},
		{"LF and CR", "A\nlevel=info\rB", `A\x0alevel=info\x0dB`},
		{"ESC and DEL", "\x1b[31mred\x7f", `\x1b[31mred\x7f`},
		{"C1 controls U+0085 and U+009B", "a\u0085b\u009bc", `a\xc2\x85b\xc2\x9bc`},
		{"U+2028 and U+2029", "a\u2028b\u2029", `a\xe2\x80\xa8b\xe2\x80\xa9`},
		{"bidi override U+202E", "sku-\u202Eevil", `sku-\xe2\x80\xaeevil`},
		{"invalid UTF-8", "a\xff\xc3(", `a\xff\xc3(`},
		{"NUL and tab", "a\x00\tb", `a\x00\x09b`},
		{"non-ASCII letters", "café", `caf\xc3\xa9`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := LogLine(c.in); got != c.want {
				t.Errorf("LogLine(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
	long := LogLine(strings.Repeat("x", 2047) + "\n")
	if long != strings.Repeat("x", 2047) {
		t.Errorf("an escape that does not fit is cut whole: got %d bytes ending %q", len(long), long[len(long)-4:])
	}
	if got := LogLine(strings.Repeat("é", 3000)); len(got) > MaxLogLine || !strings.HasSuffix(got, `\xa9`) {
		t.Errorf("got %d bytes ending %q", len(got), got[len(got)-8:])
	}
	if n := testing.AllocsPerRun(100, func() { LogLine("session-transfer: request_id=req-1 status=200") }); n != 0 {
		t.Errorf("a clean line allocates %v times", n)
	}
}

// FuzzLogLine: whatever goes in, one line of printable ASCII of at most
// MaxLogLine bytes comes out, and a clean short line is kept as is.
func FuzzLogLine(f *testing.F) {
	for _, s := range []string{"", "plain", "a\nb", "\u2028\u202e\xff", strings.Repeat("\x85", 1000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := LogLine(s)
		if len(got) > MaxLogLine {
			t.Fatalf("%d bytes", len(got))
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] > 0x7e {
				t.Fatalf("byte %#x at %d in %q", got[i], i, got)
			}
		}
		clean := len(s) <= MaxLogLine
		for i := 0; i < len(s); i++ {
			clean = clean && s[i] >= 0x20 && s[i] <= 0x7e
		}
		if clean && got != s {
			t.Fatalf("clean %q became %q", s, got)
		}
		if !strings.HasPrefix(escapeAll(s), got) {
			t.Fatalf("%q is not a prefix of the whole escaped line", got)
		}
	})
}

func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x20 && s[i] <= 0x7e {
			b.WriteByte(s[i])
		} else {
			fmt.Fprintf(&b, "\\x%02x", s[i])
		}
	}
	return b.String()
}

package request

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/firmly/session-transfer-filter/internal/sessionkey"
)

func TestMatchRoute(t *testing.T) {
	for _, c := range []struct {
		path, domain string
		ok           bool
	}{
		{"/api/v2/domains/staging.luma.gift/session/transfer", "staging.luma.gift", true},
		{"/api/v1/domains/staging.luma.gift/session/transfer", "staging.luma.gift", true},
		{"/api/v2/domains/staging.luma.gift/session/transfer/", "staging.luma.gift", true},
		{"/api/v2/domains/staging.luma.gift/session/transfer?x=1&y=/", "staging.luma.gift", true},
		{"/api/v2/domains/x%2Ey/session/transfer", "x.y", true},
		{"/api/v2/domains/x%20y/session/transfer", "x%20y", true},
		// SPEC §2.1: every spelling of the path is the path.
		{"/api/v2/domains/staging.luma.gift/session/%74ransfer", "staging.luma.gift", true},
		{"/api/v2/domains/staging.luma.gift/session/%74RANSFER", "staging.luma.gift", true},
		{"/api/v2/domains/staging.luma.gift/session/./transfer", "staging.luma.gift", true},
		{"/api/v2/domains/staging.luma.gift/session/%2e/transfer", "staging.luma.gift", true},
		{"//api//v2/domains/staging.luma.gift/session/transfer", "staging.luma.gift", true},
		{"//api/v2/domains/staging.luma.gift/session/transfer", "staging.luma.gift", true},
		{"/API/V2/domains/staging.luma.gift/Session/Transfer", "staging.luma.gift", true},
		{"/API/V2/DOMAINS/staging.luma.gift/SESSION/TRANSFER", "staging.luma.gift", true},
		{"/api/v2/domains/staging.luma.gift/session%2Ftransfer", "staging.luma.gift", true},
		{"/api/v2/domains/staging.luma.gift/session%2ftransfer", "staging.luma.gift", true},
		{"/api/v2/domains/staging.luma.gift/session%5Ctransfer", "staging.luma.gift", true},
		{"\\api\\v2\\domains\\staging.luma.gift\\session\\transfer", "staging.luma.gift", true},
		{"/api/v2/x/../domains/staging.luma.gift/session/transfer", "staging.luma.gift", true},
		{"/api/v2/x/%2E%2E/domains/staging.luma.gift/session/transfer", "staging.luma.gift", true},
		{"/api/v2/domains/staging.luma.gift/session/transfer/x/..", "staging.luma.gift", true},
		{"/../api/v2/domains/staging.luma.gift/session/transfer", "staging.luma.gift", true},
		{"/api/v2/domains/staging.luma.gift/session/transfer//", "staging.luma.gift", true},
		{"/api/v2/domains/staging.luma.gift/session/transfer/.", "staging.luma.gift", true},
		{"/%61%70%69/v2/domains/staging.luma.gift/session/transfer", "staging.luma.gift", true},
		// Not transfers.
		{"/api/v2/domains//session/transfer", "", false}, // merged: /api/v2/domains/session/transfer
		{"/api/v3/domains/a/session/transfer", "", false},
		{"/api/v2/domains/a/b/session/transfer", "", false},
		{"/api/v2/domains/a/session/transfers", "", false},
		{"/api/v2/domains/a/session/transfer%20", "", false},
		{"/api/v2/domains/a/session/transfer/../x", "", false},
		{"/api/v2/domains/a/session/trans%66er/..", "", false},
		{"/api/v2/domains/a/session%252Ftransfer", "", false},
		{"/api/v2/carts/active", "", false},
		{"", "", false},
		{"/", "", false},
	} {
		r, ok := MatchRoute(c.path)
		if ok != c.ok || r.RawDomain != c.domain || r.Err != nil {
			t.Errorf("MatchRoute(%q) = %q, %v, %v; want %q, %v", c.path, r.RawDomain, ok, r.Err, c.domain, c.ok)
		}
	}
}

// A malformed escape or a NUL in a path whose other segments make it a
// transfer path is a 400 naming the path; elsewhere it passes.
func TestMatchRouteMalformed(t *testing.T) {
	for _, c := range []struct {
		path      string
		malformed bool
	}{
		{"/api/v2/domains/a/session/%ZZtransfer", true},
		{"/api/v2/domains/a/session/transfer%", true},
		{"/api/v2/domains/a/session/transfer%2", true},
		{"/api/v2/domains/a/session/trans%00fer", true},
		{"/api/v2/domains/a%00/session/transfer", true},
		{"/api/v2/domains/a/session/transfer\x00", true},
		{"/api/v2/domains/a/session/%ZZ", true},
		{"/%/%/%/%/%/%", true},
		{"/api/v2/domains/a/session/tr\x00nsfer", true},
		{"/api%GG/v2/domains/a/session/transfer", true},
		{"/api/v%/domains/a/session/transfer", true},
		{"/api/v2/domains/a/session/transfer/%ZZ/..", false}, // the bad segment is removed
		{"/api/v2/domains/a/session/%ZZ/transfer", false},    // seven segments
		{"/other/%ZZ", false},
	} {
		r, ok := MatchRoute(c.path)
		got := ok && r.Err != nil
		if got != c.malformed {
			t.Errorf("MatchRoute(%q) = %+v, %v; want malformed %v", c.path, r, ok, c.malformed)
		}
		if got && !strings.HasPrefix(r.Err.Description, "path") {
			t.Errorf("description %q does not start with path", r.Err.Description)
		}
	}
}

func TestCanonical(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/api/v2/domains/x.com/session/%74ransfer", "/api/v2/domains/x.com/session/transfer"},
		{"/api/v2/domains/x.com/session/./transfer", "/api/v2/domains/x.com/session/transfer"},
		{"//api//v2/domains/x.com/session/transfer", "/api/v2/domains/x.com/session/transfer"},
		{"/API/V2/domains/x.com/Session/Transfer", "/API/V2/domains/x.com/Session/Transfer"},
		{"/api/v2/domains/x.com/session%2Ftransfer", "/api/v2/domains/x.com/session/transfer"},
		{"/api/v2/x/../domains/x.com/session/transfer", "/api/v2/domains/x.com/session/transfer"},
		{"/a//../b", "/a/b"},
		{"/a/b/..", "/a/"},
		{"/a/b/../", "/a/"},
		{"/a/./", "/a/"},
		{"/..", "/"},
		{"", "/"},
		{"a/b", "/a/b"},
		{"/a%20b/%7e%7E", "/a%20b/~~"},
		{"/a%252F", "/a%252F"},
		{"/a%3F?x=%ZZ", "/a%3F"},
		{"\\a\\b", "/a/b"},
	} {
		got, ok := Canonical(c.in)
		if !ok || got != c.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	for _, in := range []string{"/a%", "/a%2", "/a%G0", "/a%00", "/a\x00b"} {
		if got, ok := Canonical(in); ok {
			t.Errorf("Canonical(%q) = %q, want malformed", in, got)
		}
	}
}

// The fast path does not allocate for ordinary paths.
func TestMatchRouteFastPathDoesNotAllocate(t *testing.T) {
	for _, p := range []string{"/", "/healthz", "/api/v2/carts/active?x=1", transferTestPath, "/api/v2/domains/a/session/transfer/", "/search/caf%C3%A9", "//health"} {
		if n := testing.AllocsPerRun(100, func() { MatchRoute(p) }); n != 0 {
			t.Errorf("MatchRoute(%q): %v allocations", p, n)
		}
	}
}

const transferTestPath = "/api/v2/domains/staging.luma.gift/session/transfer"

func BenchmarkMatchRoute(b *testing.B) {
	for _, c := range []struct{ name, path string }{
		{"pass-through", "/api/v2/carts/active?page=2"},
		{"short", "/healthz"},
		{"transfer", transferTestPath},
		{"transfer-variant", "//API/v2/domains/staging.luma.gift/session/./%74ransfer"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				MatchRoute(c.path)
			}
		})
	}
}

// FuzzMatchRoute holds the properties of SPEC §2.1's canonical matching:
// it never panics, canonicalising twice changes nothing, the in-place fast
// path agrees with canonicalising, and a path accepted as a transfer
// canonicalises to one with the same domain.
func FuzzMatchRoute(f *testing.F) {
	for _, s := range []string{
		transferTestPath, "/api/v2/domains/x.com/session/%74ransfer", "//api//v2/domains/x.com/session/transfer",
		"/api/v2/x/../domains/x.com/session/transfer", "/API/V2/domains/x.com/Session/Transfer/",
		"/api/v2/domains/x.com/session%2Ftransfer", "/api/v2/domains/a/session/%ZZ", "\\a\\..\\b", "/a/%2e%2E/b?x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, ok := MatchRoute(p)
		q := p
		if i := strings.IndexAny(q, "?#"); i >= 0 {
			q = q[:i]
		}
		if slow, sok := matchCanonical(q); sok != ok || slow.RawDomain != r.RawDomain || (slow.Err == nil) != (r.Err == nil) {
			t.Fatalf("MatchRoute(%q) = %+v, %v; canonical matching says %+v, %v", p, r, ok, slow, sok)
		}
		c, cok := Canonical(p)
		if cok {
			if c2, ok2 := Canonical(c); !ok2 || c2 != c {
				t.Fatalf("Canonical(%q) = %q, then %q, %v", p, c, c2, ok2)
			}
		}
		switch {
		case ok && r.Err == nil:
			if !cok {
				t.Fatalf("transfer path %q does not canonicalise", p)
			}
			r2, ok2 := MatchRoute(c)
			if !ok2 || r2.Err != nil || r2.RawDomain != r.RawDomain {
				t.Fatalf("transfer path %q canonicalises to %q, which matches %+v, %v", p, c, r2, ok2)
			}
		case ok:
			if cok {
				t.Fatalf("malformed transfer path %q canonicalises to %q", p, c)
			}
		}
	})
}

func TestNormalizeDomain(t *testing.T) {
	for _, c := range []struct{ raw, want, err string }{
		{"staging.luma.gift", "staging.luma.gift", ""},
		{"STAGING.Luma.GIFT", "staging.luma.gift", ""},
		{"www.luma.gift", "luma.gift", ""},
		{"WWW.luma.gift", "luma.gift", ""},
		{"www.www.luma.gift", "www.luma.gift", ""},
		{"www%2Eluma.gift", "luma.gift", ""},
		{"localhost", "localhost", ""},
		{"a-b.c1", "a-b.c1", ""},
		{"www", "", "not a valid host name"},
		{"www.", "", "must not end with a dot"},
		{"luma.gift.", "", "must not end with a dot"},
		{"", "", "must not be empty"},
		{"-a.b", "", "must not start or end with '-'"},
		{"a..b", "", "1 to 63"},
		{strings.Repeat("a", 64) + ".b", "", "1 to 63"},
		{strings.Repeat("a.", 127) + "ab", "", "longer than 253"},
		{"a_b.c", "", "not a valid host name"},
		{"a%zz", "", "percent-encoding"},
		{"a%2Fb", "", "not a valid host name"},
		{"ex ample.com", "", "not a valid host name"},
	} {
		got, err := NormalizeDomain(c.raw)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", c.raw, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Description, c.err) || !strings.HasPrefix(err.Description, "domain: ")):
			t.Errorf("NormalizeDomain(%q) = %q, %v; want error containing %q", c.raw, got, err, c.err)
		}
	}
}

func TestCheckContentType(t *testing.T) {
	for _, c := range []struct {
		values []string
		ok     bool
	}{
		{[]string{"application/json"}, true},
		{[]string{"application/json; charset=utf-8"}, true},
		{[]string{"Application/JSON ;charset=UTF-8"}, true},
		{[]string{"text/plain"}, false},
		{[]string{"application/jsonx"}, false},
		{nil, false},
		{[]string{"application/json", "application/json"}, false},
	} {
		if err := CheckContentType(c.values); (err == nil) != c.ok {
			t.Errorf("CheckContentType(%q) = %v, want ok=%v", c.values, err, c.ok)
		}
	}
}

var (
	uuid  = "3f1c2a9e-7b4d-4e8a-9c2f-5d6e7f8a9b0c"
	token = "9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b"
)

func TestParseBodyAccepts(t *testing.T) {
	for _, c := range []struct {
		name, body string
		want       Transfer
	}{
		{"string handle", `{"handle":"` + uuid + `"}`,
			Transfer{Handle: uuid, RawHandle: `"` + uuid + `"`}},
		{"escaped string handle keeps its raw text", `{"handle":"` + uuid[:35] + `\u0063"}`,
			Transfer{Handle: uuid[:35] + "c", RawHandle: `"` + uuid[:35] + `\u0063"`}},
		{"object handle with token, merchantData and version",
			`{"handle":{"handle":"cart-1","token":"` + token + `","merchantData":{"x":[1,{"y":2}]},"version":"1.0"}}`,
			Transfer{ObjectHandle: true, Handle: "cart-1", Token: token,
				RawHandle: `{"handle":"cart-1","token":"` + token + `","merchantData":{"x":[1,{"y":2}]},"version":"1.0"}`}},
		{"object handle without token but long handle", `{"handle":{"handle":"` + uuid + `"}}`,
			Transfer{ObjectHandle: true, Handle: uuid, RawHandle: `{"handle":"` + uuid + `"}`}},
		{"null token, merchantData and version are absent", `{"handle":{"handle":"` + uuid + `","token":null,"merchantData":null,"version":null}}`,
			Transfer{ObjectHandle: true, Handle: uuid, RawHandle: `{"handle":"` + uuid + `","token":null,"merchantData":null,"version":null}`}},
		{"duplicate keys inside merchantData are forwarded", `{"handle":{"handle":"` + uuid + `","merchantData":{"a":1,"a":2}}}`,
			Transfer{ObjectHandle: true, Handle: uuid, RawHandle: `{"handle":"` + uuid + `","merchantData":{"a":1,"a":2}}`}},
		{"cookies of both forms, trimmed, attributes dropped",
			`{"handle":"` + uuid + `","cookies":[" a = 1 ; path=/; secure","b=","c==x",{"name":"\td","value":" 4 ","extra":true}]}`,
			Transfer{Handle: uuid, RawHandle: `"` + uuid + `"`, Cookies: []sessionkey.Cookie{{Name: "a", Value: "1"}, {Name: "b", Value: ""}, {Name: "c", Value: "=x"}, {Name: "d", Value: "4"}}}},
		{"null cookies are none", `{"handle":"` + uuid + `","cookies":null}`, Transfer{Handle: uuid, RawHandle: `"` + uuid + `"`}},
		{"unknown keys are ignored", `{"handle":"` + uuid + `","extra":{"deep":[1]}}`, Transfer{Handle: uuid, RawHandle: `"` + uuid + `"`}},
		{"value with non-ASCII UTF-8", `{"handle":"` + uuid + `","cookies":["n=é"]}`,
			Transfer{Handle: uuid, RawHandle: `"` + uuid + `"`, Cookies: []sessionkey.Cookie{{Name: "n", Value: "é"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseBody([]byte(c.body), DefaultLimits)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if got.ObjectHandle != c.want.ObjectHandle || got.Handle != c.want.Handle || got.Token != c.want.Token ||
				got.RawHandle != c.want.RawHandle || !equalCookies(got.Cookies, c.want.Cookies) {
				t.Errorf("got  %+v\nwant %+v", *got, c.want)
			}
		})
	}
}

func equalCookies(a, b []sessionkey.Cookie) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseBodyRefuses(t *testing.T) {
	long := strings.Repeat("x", 1025)
	manyCookies := `"a=1"` + strings.Repeat(`,"a=1"`, 64)
	for _, c := range []struct{ name, body, want string }{
		{"empty body", ``, "body: must be valid JSON"},
		{"not JSON", `{"handle":`, "body: must be valid JSON"},
		{"invalid UTF-8", "{\"handle\":\"\xff\"}", "body: must be valid UTF-8"},
		{"array", `[1]`, "body: must be a JSON object"},
		{"two values", `{} {}`, "body: must be valid JSON"},
		{"duplicate top-level key", `{"handle":"` + uuid + `","handle":"` + uuid + `"}`, "handle: duplicate key"},
		{"duplicate key in handle", `{"handle":{"handle":"` + uuid + `","handle":"x"}}`, "handle.handle: duplicate key"},
		{"duplicate key in a cookie", `{"handle":"` + uuid + `","cookies":[{"name":"a","name":"b","value":""}]}`, "cookies[0].name: duplicate key"},
		{"duplicate key in an unknown field", `{"handle":"` + uuid + `","x":{"k":1,"k":2}}`, "x.k: duplicate key"},
		{"33 levels of arrays", `{"handle":"` + uuid + `","x":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}`, "body: nested deeper than 32"},
		{"33 levels inside merchantData", `{"handle":{"handle":"` + uuid + `","merchantData":{"a":` + strings.Repeat("[", 30) + strings.Repeat("]", 30) + `}}}`, "body: nested deeper than 32"},
		{"64 KiB of nested arrays", `{"x":` + strings.Repeat("[", 32<<10) + strings.Repeat("]", 32<<10) + `}`, "body: nested deeper than 32"},
		{"missing handle", `{"cookies":[]}`, "handle: required"},
		{"null handle", `{"handle":null}`, "handle: required"},
		{"numeric handle", `{"handle":12}`, "handle: must be a string or an object"},
		{"short string handle", `{"handle":"abc"}`, "handle: must be at least 36 characters"},
		{"long string handle", `{"handle":"` + long + `"}`, "handle: must be at most 1024 characters"},
		{"handle with a space", `{"handle":"` + uuid[:20] + ` ` + uuid[21:] + `"}`, "handle: must be visible ASCII characters only"},
		{"handle with non-ASCII", `{"handle":"` + uuid[:35] + `é"}`, "handle: must be visible ASCII characters only"},
		{"object without handle", `{"handle":{"token":"` + token + `"}}`, "handle.handle: required"},
		{"object handle not a string", `{"handle":{"handle":5}}`, "handle.handle: must be a string"},
		{"object handle empty", `{"handle":{"handle":"","token":"` + token + `"}}`, "handle.handle: must be at least 1 characters"},
		{"short object handle without token", `{"handle":{"handle":"cart-1"}}`, "handle.handle: must be at least 36 characters when there is no token"},
		{"short token", `{"handle":{"handle":"cart-1","token":"short"}}`, "handle.token: must be at least 36 characters"},
		{"token too long", `{"handle":{"handle":"c","token":"` + strings.Repeat("t", 4097) + `"}}`, "handle.token: must be at most 4096 characters"},
		{"token not a string", `{"handle":{"handle":"c","token":123}}`, "handle.token: must be a string"},
		{"merchantData not an object", `{"handle":{"handle":"` + uuid + `","merchantData":[1]}}`, "handle.merchantData: must be an object"},
		{"merchantData too large", `{"handle":{"handle":"` + uuid + `","merchantData":{"k":"` + strings.Repeat("m", 16<<10) + `"}}}`, "handle.merchantData: must be at most 16384 bytes"},
		{"unknown version", `{"handle":{"handle":"` + uuid + `","version":"2.0"}}`, `handle.version: must be "1.0"`},
		{"cookies not an array", `{"handle":"` + uuid + `","cookies":"a=1"}`, "cookies: must be an array"},
		{"too many cookies", `{"handle":"` + uuid + `","cookies":[` + manyCookies + `]}`, "cookies: at most 64 cookies"},
		{"cookie without =", `{"handle":"` + uuid + `","cookies":["abc"]}`, "cookies[0]: must be name=value"},
		{"cookie number", `{"handle":"` + uuid + `","cookies":[1]}`, "cookies[0]: must be a string or an object"},
		{"cookie empty name", `{"handle":"` + uuid + `","cookies":[" =1"]}`, "cookies[0]: name must be 1 to 256 characters"},
		{"cookie name with separator", `{"handle":"` + uuid + `","cookies":["a b=1"]}`, "cookies[0]: name must be an RFC 6265 token"},
		{"cookie name too long", `{"handle":"` + uuid + `","cookies":["` + strings.Repeat("n", 257) + `=1"]}`, "cookies[0]: name must be 1 to 256 characters"},
		{"cookie value with control", `{"handle":"` + uuid + `","cookies":["a=\u0001"]}`, "cookies[0]: value must not contain control characters"},
		{"cookie value too long", `{"handle":"` + uuid + `","cookies":["a=` + strings.Repeat("v", 4097) + `"]}`, "cookies[0]: value must be at most 4096 bytes"},
		{"cookie object without value", `{"handle":"` + uuid + `","cookies":[{"name":"a"}]}`, "cookies[0].value: must be a string"},
		{"cookie object name not a string", `{"handle":"` + uuid + `","cookies":[{"name":1,"value":""}]}`, "cookies[0].name: must be a string"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseBody([]byte(c.body), DefaultLimits)
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Description != c.want || err.Kind.Status != 400 || err.Kind.Name != "ErrorInvalidInputBody" {
				t.Errorf("got %s %q, want %q", err.Kind.Name, err.Description, c.want)
			}
		})
	}
}

func TestDescriptionsNeverEchoValues(t *testing.T) {
	secret := "SECRET-VALUE-0123456789-0123456789-0123456789"
	for _, body := range []string{
		`{"handle":{"handle":"c","token":"` + secret + ` "}}`,
		`{"handle":"x","cookies":["a=` + secret + `"]}`,
		`{"handle":"` + uuid + `","cookies":["a b=` + secret + `"]}`,
		`{"handle":"` + uuid + `","cookies":["a=` + secret + "\u0001" + `"]}`,
	} {
		_, err := ParseBody([]byte(body), DefaultLimits)
		if err == nil || strings.Contains(err.Description, "SECRET") {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// Property: whatever the input, ParseBody either refuses with a 400 naming a
// field, or accepts a transfer whose parts obey every rule; and it is
// deterministic.
func FuzzParseBody(f *testing.F) {
	for _, s := range []string{
		`{"handle":"` + uuid + `"}`,
		`{"handle":{"handle":"cart-1","token":"` + token + `","merchantData":{"a":1}},"cookies":["a=1; p",{"name":"b","value":"2"}]}`,
		`{"handle":{"handle":"x"},"cookies":null}`, `[]`, `{"handle":"a","handle":"b"}`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := ParseBody(body, DefaultLimits)
		again, err2 := ParseBody(body, DefaultLimits)
		if (err == nil) != (err2 == nil) || (err != nil && err.Description != err2.Description) {
			t.Fatal("not deterministic")
		}
		if err != nil {
			if err.Kind.Status != 400 || !strings.Contains(err.Description, ": ") {
				t.Fatalf("bad refusal %v", err)
			}
			return
		}
		if !gjson.Valid(got.RawHandle) || len(got.Handle) == 0 || len(got.Handle) > 1024 || len(got.Cookies) > 64 {
			t.Fatalf("accepted an invalid transfer %+v", got)
		}
		if !got.ObjectHandle || got.Token == "" {
			if len(got.Handle) < DefaultLimits.HandleMinLength {
				t.Fatalf("short handle accepted: %+v", got)
			}
		}
		for _, c := range got.Cookies {
			if c.Name == "" || strings.TrimSpace(c.Name) != c.Name || strings.Trim(c.Value, " \t") != c.Value {
				t.Fatalf("cookie not normalised: %+v", c)
			}
		}
		_ = again
	})
}

// Property: a cookie written as "name=value" and as an object normalise to
// the same cookie, and normalising is idempotent.
func FuzzCookieForms(f *testing.F) {
	f.Add("a", "1")
	f.Add(" PHPSESSID\t", " abc123 ")
	f.Fuzz(func(t *testing.T, name, value string) {
		c1, err1 := NormalizeCookie("c", name, value)
		if err1 != nil {
			return
		}
		if strings.ContainsAny(value, ";") || !utf8.ValidString(name+value) {
			return // an attribute in the string form; bodies must be UTF-8 anyway
		}
		c2, err2 := NormalizeCookie("c", c1.Name, c1.Value)
		if err2 != nil || c2 != c1 {
			t.Fatalf("not idempotent: %+v then %+v, %v", c1, c2, err2)
		}
		str, _ := ParseCookies(gjson.Parse(quote(name+"="+value)), 1)
		if strings.Contains(name, "=") {
			return
		}
		if len(str) != 1 || str[0] != c1 {
			t.Fatalf("string form %+v != object form %+v", str, c1)
		}
	})
}

func quote(s string) string {
	var b strings.Builder
	b.WriteString(`["`)
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(`"]`)
	return b.String()
}

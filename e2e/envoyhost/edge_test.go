package envoyhost

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/envoyconfig"
)

// Envoy's own expectations for its path helpers, from
// test/common/http/path_utility_test.cc (PathUtilityTest and
// PathTransformationTest), so the host's copy of each step is pinned to
// Envoy's and not to a guess.
func TestPathStepsAgreeWithEnvoysTests(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/xyz", "/xyz"}, {"/x/y/z", "/x/y/z"},
		{"/a/b/../c", "/a/c"}, {"/a/b/./c", "/a/b/c"}, {"a/b/../c", "/a/c"},
		{"/a/b/../../../../c", "/c"}, {`/a/..\c`, "/c"}, {"/%c0%af", "/%c0%af"},
		{"/%5c%25", "/%5c%25"}, {"/a/b/%2E%2E/c", "/a/c"}, {"/a/b/%2E./c", "/a/c"},
		{"/a/b/%2E/c", "/a/b/c"}, {"..", "/"}, {"/../a/b", "/a/b"}, {"/./a/b", "/a/b"},
		{"/A/B/C", "/A/B/C"}, {"/a/b/%2e%2e/c", "/a/c"}, {"/a/%2F%2f/c", "/a/%2F%2f/c"},
		// Beyond Envoy's list, straight from the canonicaliser's table.
		{"/%74%41%7e%2D%5F", "/tA~-_"}, {"/a b", "/a%20b"}, {"/a\x7fb\xc3\xa9", "/a%7Fb%C3%A9"},
		{"/%%30%30", "/%2500"}, {"/%zz%2", "/%zz%2"}, {"/a/%3b%3B", "/a/%3b%3B"}, {"", "/"},
	} {
		got, ok := canonicalizePath(c.in)
		if !ok || got != c.want {
			t.Errorf("canonicalizePath(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	for _, bad := range []string{"/xyz/.%00../abc", "/xyz/%00.%00./abc", "/xyz/AAAAA%%0000/abc", "/a\x00b"} {
		if got, ok := canonicalizePath(bad); ok {
			t.Errorf("canonicalizePath(%q) = %q, accepted; Envoy refuses a NUL", bad, got)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"", ""}, {"a//b/c", "a/b/c"}, {"/a//b/c/", "/a/b/c/"}, {"a//b/c/", "a/b/c/"}, {"/a", "/a"},
		{"//a/b/c", "/a/b/c"}, {"/a//b/c", "/a/b/c"}, {"/a/b/c//", "/a/b/c/"}, {"/a///b/c", "/a/b/c"},
		{"/a////b/c", "/a/b/c"}, {"/a//b?a=///c", "/a/b?a=///c"}, {"/a//b?", "/a/b?"}, {"//a/?b", "/a/?b"},
	} {
		if got := mergeSlashes(c.in); got != c.want {
			t.Errorf("mergeSlashes(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in, want string
		found    bool
	}{
		{"/a/b", "/a/b", false}, {"/a%2Fb", "/a/b", true}, {"%2fa%5Cb%2fc%5c", `/a\b/c\`, true},
		{"%2fa%5Cb%2fc%5c?%2fabcd%5C%%2f%", `/a\b/c\?%2fabcd%5C%%2f%`, true}, {"/a%2Eb", "/a%2Eb", false},
	} {
		if got, found := unescapeSlashes(c.in); got != c.want || found != c.found {
			t.Errorf("unescapeSlashes(%q) = %q, %v; want %q, %v", c.in, got, found, c.want, c.found)
		}
	}
}

// The order of the steps matters: escaped slashes first, then the
// canonicaliser, then merging; each setting alone does only its own step.
func TestPathNormalizationSettings(t *testing.T) {
	const p = "/a//b/%2E%2E/c%2Fd"
	for _, c := range []struct {
		name   string
		n      PathNormalization
		want   string
		action PathAction
	}{
		{"nothing", PathNormalization{}, p, PathContinue},
		{"normalize_path", PathNormalization{NormalizePath: true}, "/a//c%2Fd", PathContinue},
		{"merge_slashes", PathNormalization{MergeSlashes: true}, "/a/b/%2E%2E/c%2Fd", PathContinue},
		{"both", PathNormalization{NormalizePath: true, MergeSlashes: true}, "/a/c%2Fd", PathContinue},
		{"escaped slashes rejected", PathNormalization{EscapedSlashes: EscapedSlashesRejectRequest}, "/a//b/%2E%2E/c/d", PathReject},
		{"escaped slashes forwarded", PathNormalization{EscapedSlashes: EscapedSlashesUnescapeAndForward}, "/a//b/%2E%2E/c/d", PathContinue},
		{"hardened", HardenedPath, "/a/c/d", PathRedirect},
	} {
		got, action := c.n.Apply(p)
		if got != c.want || action != c.action {
			t.Errorf("%s: Apply(%q) = %q, %v; want %q, %v", c.name, p, got, action, c.want, c.action)
		}
	}
}

// transferRoute is envoy.yaml's transfer route regex.
func transferRoute(t *testing.T) *regexp.Regexp {
	t.Helper()
	c, err := envoyconfig.Load("../../envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Routes {
		if r.WasmFilter != nil && !r.WasmFilter.Disabled && r.Regex != nil {
			return r.Regex
		}
	}
	t.Fatal("envoy.yaml has no route that enables the filter")
	return nil
}

// TransferPathSpellings holds under HardenedPath, and its Transfer column
// agrees with envoy.yaml's transfer route.
func TestTransferPathSpellings(t *testing.T) {
	route := transferRoute(t)
	for _, c := range TransferPathSpellings {
		got, action := HardenedPath.Apply(c.Path)
		if got != c.Want || action != c.Action {
			t.Errorf("%s: Apply(%q) = %q, %v; want %q, %v", c.Name, c.Path, got, action, c.Want, c.Action)
		}
		bare, _ := splitQuery(c.Want)
		matched := action != PathReject && route.FindString(bare) == bare
		if matched != c.Transfer {
			t.Errorf("%s: the transfer route matches %q: %v, the table says %v", c.Name, bare, matched, c.Transfer)
		}
	}
}

// Normalisation runs before the route is chosen and before the filter
// runs: every spelling reaches the route-scoped filter, which sees the
// canonical :path; a redirect or a refusal never enters the VM.
func TestPathNormalizedBeforeRouteAndFilter(t *testing.T) {
	app := newRecorder(t, nil)
	h := startProbe(t, Config{
		Path:           HardenedPath,
		FilterDisabled: true,
		Clusters:       map[string]Cluster{"app": {Addr: app.addr()}},
		Routes: []Route{
			{Regex: transferRoute(t), Cluster: "app", Filter: RouteFilterEnabled},
			{Prefix: "/", Cluster: "app"},
		},
	})
	for _, c := range TransferPathSpellings {
		t.Run(c.Name, func(t *testing.T) {
			before := len(h.Calls())
			resp := do(t, h, &Request{Path: c.Path, Headers: probe("echo-headers")})
			entered := len(h.Calls()) > before
			switch {
			case c.Action == PathReject:
				if resp.Status != 400 || resp.Details != "path_normalization_failed" || entered {
					t.Errorf("got %d %s (VM entered %v), want Envoy's 400 path_normalization_failed before the filter", resp.Status, resp.Details, entered)
				}
			case c.Action == PathRedirect:
				if resp.Status != 307 || resp.Header("location") != c.Want || len(resp.Body) != 0 || resp.Details != "path_normalization_failed" || entered {
					t.Errorf("got %d location %q body %q %s (VM entered %v), want 307 to %q", resp.Status, resp.Header("location"), resp.Body, resp.Details, entered, c.Want)
				}
			case c.Transfer:
				if resp.Status != 200 || !strings.Contains(string(resp.Body), ":path="+c.Want+"\n") {
					t.Errorf("got %d %q, want the filter to see :path %q", resp.Status, resp.Body, c.Want)
				}
			default:
				// The upstream answers (Go's server refuses a malformed
				// escape with its own 400).
				if resp.Local || resp.Details != "via_upstream" || entered {
					t.Errorf("got %d %q %s (VM entered %v), want the catch-all route without the filter", resp.Status, resp.Body, resp.Details, entered)
				}
			}
		})
	}
	// The upstream got the normalised paths too.
	app.mu.Lock()
	defer app.mu.Unlock()
	for _, r := range app.requests {
		if strings.Contains(r, "//") || strings.Contains(r, "/./") || strings.Contains(r, "%2e") {
			t.Errorf("upstream received %q", r)
		}
	}
}

// headers_with_underscores_action, as Envoy's HTTP/1 codec applies it.
func TestHeadersWithUnderscores(t *testing.T) {
	for _, c := range []struct {
		name   string
		action UnderscoreAction
		status int
		seen   bool
	}{
		{"allow", UnderscoresAllow, 200, true},
		{"drop", UnderscoresDropHeader, 200, false},
		{"reject", UnderscoresRejectRequest, 400, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startProbe(t, Config{HeadersWithUnderscores: c.action})
			resp := do(t, h, &Request{Headers: probe("echo-headers", [2]string{"x_user", "admin"}, [2]string{"x-ok", "1"})})
			if resp.Status != c.status || strings.Contains(string(resp.Body), "x_user=admin") != c.seen {
				t.Errorf("got %d %q", resp.Status, resp.Body)
			}
			if c.status == 400 {
				if string(resp.Body) != "Bad Request" || resp.Details != "http1.unexpected_underscore" {
					t.Errorf("got %q %s, want Envoy's codec answer", resp.Body, resp.Details)
				}
				if slices.ContainsFunc(h.Calls(), func(s string) bool {
					return strings.Contains(s, "proxy_on_context_create") && !strings.HasSuffix(s, ",0)")
				}) {
					t.Errorf("the filter ran: %v", h.Calls())
				}
			}
		})
	}
}

// gate is an upstream that holds every request until released, and says
// when one has arrived.
type gate struct {
	arrived chan string
	open    chan struct{}
	once    sync.Once
	rec     *recorder
}

func newGate(t *testing.T) *gate {
	g := &gate{arrived: make(chan string, 16), open: make(chan struct{})}
	g.rec = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		g.arrived <- r.URL.Path
		<-g.open
		w.Write([]byte("released"))
	})
	t.Cleanup(g.release)
	return g
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

// A callout over a full circuit breaker fails inside proxy_http_call, as
// in Envoy (see dispatchHTTPCall); one over max_connections waits as
// pending and is sent when a request ahead of it ends.
func TestCircuitBreakerRefusesCallouts(t *testing.T) {
	for _, c := range []struct {
		name            string
		cb              CircuitBreaker
		active, pending int // callouts admitted before the next is refused
	}{
		{"one of each", CircuitBreaker{MaxConnections: 1, MaxPendingRequests: 1, MaxRequests: 1}, 1, 1},
		{"max_connections, then pending", CircuitBreaker{MaxConnections: 1, MaxPendingRequests: 2, MaxRequests: 100}, 1, 2},
		{"max_connections of two", CircuitBreaker{MaxConnections: 2, MaxPendingRequests: 1, MaxRequests: 100}, 2, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGate(t)
			cb := c.cb
			h := startProbe(t, Config{Clusters: map[string]Cluster{"svc": {Addr: g.rec.addr(), CircuitBreaker: &cb}}})
			var held []*Stream
			for i := 0; i < c.active+c.pending; i++ {
				s := h.NewStream()
				s.Send(&Request{Headers: calloutHeaders("svc", fmt.Sprintf("/held-%d", i), "0")})
				if i < c.active {
					<-g.arrived
				}
				held = append(held, s)
			}
			if a, p := h.ClusterLoad("svc"); a != c.active || p != c.pending {
				t.Errorf("load %d active %d pending, want %d and %d", a, p, c.active, c.pending)
			}
			resp := do(t, h, &Request{Headers: calloutHeaders("svc", "/refused", "0")})
			if resp.Status != 500 || !strings.Contains(string(resp.Body), "dispatch: ") {
				t.Errorf("refused callout: got %d %q, want the dispatch to fail inline", resp.Status, resp.Body)
			}
			if got := h.CalloutOverflows(); !slices.Equal(got, []string{"svc"}) {
				t.Errorf("overflows %v", got)
			}
			g.release()
			for _, s := range held {
				resp, err := s.Wait(testCtx(t))
				if err != nil || resp.Status != 200 || !strings.Contains(string(resp.Body), "status=200") {
					t.Errorf("held callout: %v %+v", err, resp)
				}
			}
			if err := h.WaitCallouts(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			if resp := do(t, h, &Request{Headers: calloutHeaders("svc", "/after", "0")}); !strings.Contains(string(resp.Body), "status=200") {
				t.Errorf("after the slots came back: %d %q", resp.Status, resp.Body)
			}
			if a, p := h.ClusterLoad("svc"); a != 0 || p != 0 {
				t.Errorf("load %d active %d pending after every request ended", a, p)
			}
			if got := g.rec.count(); got != c.active+c.pending+1 {
				t.Errorf("the upstream got %d requests, want %d (never the refused one)", got, c.active+c.pending+1)
			}
		})
	}
}

// A pending callout's timeout runs while it waits, as the async client's
// does in Envoy: it is answered 504 without reaching the upstream.
func TestCircuitBreakerPendingCalloutTimesOut(t *testing.T) {
	g := newGate(t)
	cb := CircuitBreaker{MaxConnections: 1, MaxPendingRequests: 1, MaxRequests: 1}
	h := startProbe(t, Config{Clusters: map[string]Cluster{"svc": {Addr: g.rec.addr(), CircuitBreaker: &cb}}})
	first := h.NewStream()
	first.Send(&Request{Headers: calloutHeaders("svc", "/held", "0")})
	<-g.arrived
	resp := do(t, h, &Request{Headers: calloutHeaders("svc", "/pending", "50")})
	if resp.Status != 200 || !strings.Contains(string(resp.Body), "status=504") {
		t.Errorf("pending callout: %d %q, want the router's 504", resp.Status, resp.Body)
	}
	if a, p := h.ClusterLoad("svc"); a != 1 || p != 0 {
		t.Errorf("load %d active %d pending, want the timed-out one gone", a, p)
	}
	g.release()
	if r, err := first.Wait(testCtx(t)); err != nil || !strings.Contains(string(r.Body), "status=200") {
		t.Errorf("first: %v %+v", err, r)
	}
	if got := g.rec.count(); got != 1 {
		t.Errorf("the upstream got %d requests, want 1", got)
	}
}

// The router's own requests count against the breaker too, and a request
// it refuses is answered 503 with x-envoy-overloaded, without an upstream.
func TestCircuitBreakerRefusesRoutedRequests(t *testing.T) {
	g := newGate(t)
	cb := CircuitBreaker{MaxConnections: 1, MaxPendingRequests: 0, MaxRequests: 1}
	h := startProbe(t, Config{
		Clusters: map[string]Cluster{"app": {Addr: g.rec.addr(), CircuitBreaker: &cb}},
		Routes:   []Route{{Prefix: "/", Cluster: "app"}},
	})
	first := h.NewStream()
	first.Send(&Request{Path: "/first"})
	<-g.arrived
	resp := do(t, h, &Request{Path: "/second"})
	if resp.Status != 503 || resp.Header("x-envoy-overloaded") != "true" || string(resp.Body) != overflowBody || resp.Details != overflowDetails {
		t.Errorf("got %d %v %q %s, want Envoy's overflow answer", resp.Status, resp.Headers, resp.Body, resp.Details)
	}
	g.release()
	if resp, err := first.Wait(testCtx(t)); err != nil || resp.Status != 200 {
		t.Errorf("first: %v %+v", err, resp)
	}
	if resp := do(t, h, &Request{Path: "/third"}); resp.Status != 200 {
		t.Errorf("third: %d %q", resp.Status, resp.Body)
	}
}

// case_sensitive: false applies to prefix routes; a regex route is
// matched as written, as Envoy documents for safe_regex.
func TestRouteCaseSensitivity(t *testing.T) {
	h := &Host{cfg: Config{Routes: []Route{
		{Prefix: "/Admin", Cluster: "admin", CaseInsensitive: true},
		{Regex: regexp.MustCompile("/api/x"), Cluster: "api", CaseInsensitive: true},
		{Prefix: "/", Cluster: "rest"},
	}}}
	for path, want := range map[string]string{"/admin/a": "admin", "/ADMIN": "admin", "/api/x": "api", "/API/X": "rest", "/adm": "rest"} {
		if r, _ := h.route(path); r.Cluster != want {
			t.Errorf("%s routed to %s, want %s", path, r.Cluster, want)
		}
	}
}

// Properties of the host's path normalisation: it never panics, a path it
// lets through starts with / and carries no raw control, space, non-ASCII
// byte or \, and normalising that path again changes nothing.
func FuzzPathNormalization(f *testing.F) {
	for _, c := range TransferPathSpellings {
		f.Add(c.Path)
	}
	f.Add("/%%30%30/.%2e/%2E./a\\b//c?d#e")
	f.Fuzz(func(t *testing.T, p string) {
		got, action := HardenedPath.Apply(p)
		if action == PathReject {
			return
		}
		path, _ := splitQuery(got)
		if !strings.HasPrefix(path, "/") {
			t.Fatalf("Apply(%q) = %q: not absolute", p, got)
		}
		for i := 0; i < len(path); i++ {
			if c := path[i]; c <= ' ' || c >= 0x7f || c == '\\' {
				t.Fatalf("Apply(%q) = %q: raw byte %#x", p, got, c)
			}
		}
		if again, action2 := HardenedPath.Apply(got); again != got || action2 != PathContinue {
			t.Fatalf("Apply(%q) = %q, but again %q (%v)", p, got, again, action2)
		}
	})
}

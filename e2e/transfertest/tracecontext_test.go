package transfertest

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
)

// Trace context on both callouts (SPEC §2.5), against plugin.wasm: the
// merchant export and the backend write carry exactly the client's
// well-formed trace headers, byte for byte, and nothing of a malformed or
// repeated one.

var traceHeaderNames = []string{
	"traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid",
	"x-b3-sampled", "x-b3-flags", "x-cloud-trace-context",
}

// traceHeadersOf returns every value of every trace header a service
// received, by lower-case name.
func traceHeadersOf(h http.Header) map[string][]string {
	out := map[string][]string{}
	for _, n := range traceHeaderNames {
		if v := h.Values(n); len(v) > 0 {
			out[n] = v
		}
	}
	return out
}

func TestCalloutsCarryTheClientsTraceContext(t *testing.T) {
	wellFormed := [][2]string{
		{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
		{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"},
		{"x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"},
		{"x-b3-spanid", "e457b5a2e4d86bd1"},
		{"x-b3-parentspanid", "05e3ac9a4f6e3b90"},
		{"x-b3-sampled", "1"},
		{"x-b3-flags", "1"},
		{"x-cloud-trace-context", "105445aa7843bc8bf206b12000100000/1;o=1"},
	}
	malformed := [][2]string{
		{"traceparent", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, // version ff
		{"tracestate", "a=1"}, {"tracestate", "b=2"}, // repeated
		{"b3", strings.Repeat("a", 513)},                                         // too long
		{"x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7\u00e9"},               // not ASCII
		{"x-b3-spanid", "e457b5a2e4d86bd1"}, {"x-b3-spanid", "e457b5a2e4d86bd1"}, // repeated, even equal
		{"x-b3-sampled", ""}, // empty
		{"x-cloud-trace-context", "105445aa7843bc8bf206b12000100000/1\x7f"}, // DEL
	}
	for _, c := range []struct {
		name string
		sent [][2]string
		want map[string][]string
	}{
		{"every well-formed trace header reaches both callouts byte for byte", wellFormed, func() map[string][]string {
			m := map[string][]string{}
			for _, kv := range wellFormed {
				m[kv[0]] = []string{kv[1]}
			}
			return m
		}()},
		{"none of a malformed set reaches either callout", malformed, map[string][]string{}},
		{"W3C only, with an upper-case traceparent dropped and never repaired", [][2]string{
			{"traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"}, {"tracestate", "rojo=1"},
		}, map[string][]string{"tracestate": {"rojo=1"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := e2etest.NewStack(t, e2etest.StackOpts{})
			e2etest.CartOf(t, st.Do(t, st.Req(t, e2etest.ObjectBody, c.sent...)))
			for _, svc := range []struct {
				name string
				s    *e2etest.Service
			}{{"merchant", st.Merchant}, {"backend", st.Backend}} {
				got := svc.s.Received()
				if len(got) != 1 {
					t.Fatalf("the %s received %d calls, want 1", svc.name, len(got))
				}
				if h := traceHeadersOf(got[0].Header); !reflect.DeepEqual(h, c.want) {
					t.Errorf("the %s received trace headers %q\nwant %q", svc.name, h, c.want)
				}
				if id := got[0].Header.Values("x-request-id"); len(id) != 1 || id[0] != "req-1" {
					t.Errorf("the %s received x-request-id %q, want [req-1]", svc.name, id)
				}
			}
		})
	}
}

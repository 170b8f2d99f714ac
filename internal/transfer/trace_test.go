package transfer

import (
	"reflect"
	"testing"
)

// Both callouts carry the client's well-formed trace headers, byte for
// byte, after x-request-id; a malformed or repeated one reaches neither.
func TestCalloutsCarryTraceContext(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tr, step := engine(t).Start(headers("POST", path, authz, json_,
		[2]string{"x-request-id", "r-1"}, [2]string{"traceparent", tp}, [2]string{"tracestate", "a=1"},
		[2]string{"b3", "bad\x01"}, [2]string{"x-b3-sampled", "1"}, [2]string{"x-b3-sampled", "0"}), now)
	if step.Kind != AwaitBody {
		t.Fatalf("Start: %+v", step)
	}
	trace := func(h [][2]string) [][2]string {
		var out [][2]string
		for _, kv := range h {
			switch kv[0] {
			case "x-request-id", "traceparent", "tracestate", "b3", "x-b3-sampled":
				out = append(out, kv)
			}
		}
		return out
	}
	want := [][2]string{{"x-request-id", "r-1"}, {"traceparent", tp}, {"tracestate", "a=1"}}
	export := tr.OnBody([]byte(`{"handle":"` + uuid + `"}`))
	if got := trace(export.Callout.Headers); !reflect.DeepEqual(got, want) {
		t.Errorf("export headers %q, want %q", got, want)
	}
	write := tr.OnCalloutAnswer(200, []byte(cartJSON), len(cartJSON), now)
	if write.Kind != Dispatch {
		t.Fatalf("after the export: %+v", write)
	}
	if got := trace(write.Callout.Headers); !reflect.DeepEqual(got, want) {
		t.Errorf("backend write headers %q, want %q", got, want)
	}
}

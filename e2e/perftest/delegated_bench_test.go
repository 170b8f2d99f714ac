package perftest

import (
	"strconv"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

// The "transfer, delegated" bench row: the same transfer as "transfer
// RS256", with the claims jwt_authn verified handed over as dynamic metadata
// (auth.verified_payload) and no token to parse or verify in the module.
// jwt_authn's own native verification is Envoy's time, not the module's.

const (
	delegatedRow       = "transfer, delegated"
	jwtAuthnNamespace  = "envoy.filters.http.jwt_authn"
	configPlain        = 0 // index of the harness's plugin configuration
	configDelegated    = 1 // index of its delegated twin
	perfConfigurations = 2
)

// config is the index of the plugin configuration the scenario runs under.
func (sc perfScenario) config() int {
	if sc.name == delegatedRow {
		return configDelegated
	}
	return configPlain
}

// perfPluginConfig is the plugin configuration of an index: the harness's,
// or its delegated twin.
func perfPluginConfig(tb testing.TB, conf int) string {
	if conf == configDelegated {
		return e2etest.DelegatedPluginConfig("")
	}
	return e2etest.PluginConfig(tb, e2etest.StackOpts{})
}

func delegatedTransferScenario() perfScenario {
	return perfScenario{name: delegatedRow, status: 200, next: func(_ testing.TB, i int) *envoyhost.Request {
		r := transferRequest("")
		// jwt_authn removed the verified token (forward: false).
		r.Headers = envoyhost.Pairs{{"content-type", "application/json"}, {"x-request-id", "req-1"}}
		c := e2etest.DeviceClaims()
		c["jti"] = "perf-" + strconv.Itoa(i)
		payload, err := structpb.NewStruct(c)
		if err != nil {
			panic(err) // the claims are strings and numbers
		}
		r.Metadata = map[string]*structpb.Struct{jwtAuthnNamespace: {Fields: map[string]*structpb.Value{
			"payload": structpb.NewStructValue(payload)}}}
		return r
	}}
}

// nativeMetadata is the metadata of the request nativeRun is driving; the
// native delegated engine reads it as the plugin reads Envoy's.
var nativeMetadata map[string]*structpb.Struct

func nativeMetadataReader(path []string) ([]byte, bool, error) {
	return envoyhost.MetadataValue(nativeMetadata, append([]string{jwtAuthnNamespace}, path...)...)
}

// metadataJSON is metadata as plain JSON values, for the V8 host.
func metadataJSON(md map[string]*structpb.Struct) map[string]any {
	if md == nil {
		return nil
	}
	out := map[string]any{}
	for ns, s := range md {
		out[ns] = s.AsMap()
	}
	return out
}

// TestDelegatedBenchRowAnswers: the bench row is a real transfer through
// the compiled module, its claims read from the metadata (the native check
// is TestPerfScenariosAnswerAsExpected, the V8 one the bench's own).
func TestDelegatedBenchRowAnswers(t *testing.T) {
	h := newPerfHostFor(t, configDelegated)
	sc := delegatedTransferScenario()
	r := sc.next(t, 1)
	for _, kv := range r.HeaderPairs() {
		if kv[0] == "x-firmly-authorization" {
			t.Fatal("the delegated row sends a token")
		}
	}
	resp, err := h.Do(e2etest.TestContext(t), r)
	if err != nil {
		t.Fatal(err)
	}
	h.WaitCallouts(e2etest.TestContext(t))
	c := e2etest.CartOf(t, resp)
	if items, _ := c["line_items"].([]any); len(items) == 0 {
		t.Errorf("answer %s: no cart line items", resp.Body)
	}
	if n := len(h.Callouts()); n != 2 {
		t.Errorf("%d callouts, want the export and the write", n)
	}
	if resp.FilterState["wasm.session_transfer.kid"] != "delegated" || resp.FilterState["wasm.session_transfer.device_id"] != "dev-123" {
		t.Errorf("filter state %v, want kid delegated and device_id dev-123 (from the metadata)", resp.FilterState)
	}

	// Without the metadata the same request is refused: the claims came
	// from it, not from anything else in the request.
	r = sc.next(t, 2)
	r.Metadata = nil
	resp, err = h.Do(e2etest.TestContext(t), r)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 401 {
		t.Errorf("without metadata: %d %s, want 401", resp.Status, resp.Body)
	}
}

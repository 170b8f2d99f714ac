package perftest

import (
	"encoding/binary"
	"math"
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

const delegatedRow = "transfer, delegated"

// delegated: the row runs under auth.verified_payload, the claims arriving
// as dynamic metadata (Request.Metadata) instead of a token.
func (sc perfScenario) delegated() bool { return sc.name == delegatedRow }

func delegatedTransferScenario() perfScenario {
	return perfScenario{name: delegatedRow, status: 200, next: func(_ testing.TB, i int) *envoyhost.Request {
		r := transferRequest("")
		// jwt_authn removed the verified token (forward: false).
		r.Headers = envoyhost.Pairs{{"content-type", "application/json"}, {"x-request-id", "req-1"}}
		c := e2etest.DeviceClaims()
		c["jti"] = "perf-" + strconv.Itoa(i)
		payload, err := structpb.NewStruct(c)
		if err != nil {
			panic(err)
		}
		r.Metadata = map[string]*structpb.Struct{"envoy.filters.http.jwt_authn": {Fields: map[string]*structpb.Value{
			"payload": structpb.NewStructValue(payload)}}}
		return r
	}}
}

// perfPluginConfig is the bench's plugin configuration: the harness's, or
// its delegated twin.
func perfPluginConfig(tb testing.TB, delegated bool) string {
	if delegated {
		return e2etest.DelegatedPluginConfig("")
	}
	return e2etest.PluginConfig(tb, e2etest.StackOpts{})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nativeMetadata is the metadata of the request nativeRun is driving; the
// native delegated engine reads it as the plugin reads Envoy's.
var nativeMetadata map[string]*structpb.Struct

// nativeMetadataReader serves the engine's metadata reads natively, with
// Envoy's serialisation of leaves (string bytes, 8-byte double, bool byte).
func nativeMetadataReader(path []string) ([]byte, bool, error) {
	ns := nativeMetadata["envoy.filters.http.jwt_authn"]
	if ns == nil {
		return nil, false, nil
	}
	v := structpb.NewStructValue(ns)
	for _, seg := range path {
		switch k := v.GetKind().(type) {
		case *structpb.Value_StructValue:
			next, ok := k.StructValue.GetFields()[seg]
			if !ok {
				return nil, false, nil
			}
			v = next
		case *structpb.Value_ListValue:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(k.ListValue.GetValues()) {
				return nil, false, nil
			}
			v = k.ListValue.GetValues()[i]
		default:
			return nil, false, nil
		}
	}
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return []byte(k.StringValue), true, nil
	case *structpb.Value_NumberValue:
		return binary.LittleEndian.AppendUint64(nil, math.Float64bits(k.NumberValue)), true, nil
	case *structpb.Value_BoolValue:
		if k.BoolValue {
			return []byte{1}, true, nil
		}
		return []byte{0}, true, nil
	}
	return []byte("pairs"), true, nil
}

// metadataJSON is metadata as plain JSON values for the V8 host.
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

// TestDelegatedBenchRowAnswers: the bench row is a real transfer in the
// host, not only natively (the native check is TestPerfScenariosAnswerAsExpected).
func TestDelegatedBenchRowAnswers(t *testing.T) {
	h := newPerfHostFor(t, true)
	sc := delegatedTransferScenario()
	perfDo(t, h, sc.next(t, 1), 200)
}

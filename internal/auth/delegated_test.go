package auth

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"testing"
	"time"
)

// envoyPayload serves a payload the way Envoy's proxy_get_property does
// (context.cc serializeValue): a string leaf as its bytes, a number as an
// 8-byte little-endian double, a bool as one byte; a list is walked by
// index; nil payload is NotFound; a claim set to errClaim fails to
// serialise (Envoy cannot serialise a JSON null).
type envoyPayload map[string]any

var errClaim = errors.New("serialization failure")

func (p envoyPayload) read(path []string) ([]byte, bool, error) {
	if p == nil {
		return nil, false, nil
	}
	if len(path) == 0 {
		return []byte("map"), true, nil
	}
	v, ok := p[path[0]]
	if !ok {
		return nil, false, nil
	}
	if len(path) == 2 {
		l, isList := v.([]any)
		i, err := strconv.Atoi(path[1])
		if !isList || err != nil || i >= len(l) {
			return nil, false, nil
		}
		v = l[i]
	}
	switch x := v.(type) {
	case string:
		return []byte(x), true, nil
	case float64:
		return binary.LittleEndian.AppendUint64(nil, math.Float64bits(x)), true, nil
	case bool:
		if x {
			return []byte{1}, true, nil
		}
		return []byte{0}, true, nil
	case []any:
		return []byte("\x02\x00\x00\x00pairs"), true, nil
	}
	return nil, false, errClaim
}

func TestVerifyPayload(t *testing.T) {
	exp := float64(now.Add(time.Hour).Unix())
	base := func(over map[string]any) envoyPayload {
		p := envoyPayload{"device_id": "dev-1", "app_id": "app-1", "exp": exp, "iat": float64(now.Unix()), "iss": "firmly", "aud": "transfer"}
		for k, v := range over {
			if v == nil {
				delete(p, k)
			} else {
				p[k] = v
			}
		}
		return p
	}
	strict := Options{Delegated: true, Issuer: "firmly", Audience: "transfer", AllowedAppIDs: []string{"app-1"}, Leeway: 30 * time.Second}
	cases := []struct {
		name    string
		opts    Options
		payload envoyPayload
		want    string // "" accepted
		noPay   bool
	}{
		{"accepted", strict, base(nil), "", false},
		{"no payload", strict, nil, "no verified token payload", true},
		{"no exp is fine in this mode", Options{Delegated: true}, base(map[string]any{"exp": nil}), "", false},
		{"expired", strict, base(map[string]any{"exp": float64(now.Add(-time.Minute).Unix())}), "token expired", false},
		{"expired within leeway", strict, base(map[string]any{"exp": float64(now.Add(-10 * time.Second).Unix())}), "", false},
		{"nbf in the future", strict, base(map[string]any{"nbf": float64(now.Add(time.Hour).Unix())}), "token not valid yet", false},
		{"iat in the future", strict, base(map[string]any{"iat": float64(now.Add(time.Hour).Unix())}), "token issued in the future", false},
		{"exp a string", strict, base(map[string]any{"exp": "soon"}), "exp claim must be a number", false},
		{"exp NaN", strict, base(map[string]any{"exp": math.NaN()}), "exp claim must be a number", false},
		{"exp out of range", strict, base(map[string]any{"exp": 1e300}), "exp claim is out of range", false},
		{"exp null", strict, base(map[string]any{"exp": struct{}{}}), "exp claim must be a number", false},
		{"missing device_id", strict, base(map[string]any{"device_id": nil}), "missing device_id claim", false},
		{"device_id malformed", strict, base(map[string]any{"device_id": "dev 1"}), "device_id claim must be 1 to 256 characters of A-Z, a-z, 0-9, '_' and '-'", false},
		{"device_id a number", strict, base(map[string]any{"device_id": 12345.0}), "device_id claim must be 1 to 256 characters of A-Z, a-z, 0-9, '_' and '-'", false},
		{"device_id null", strict, base(map[string]any{"device_id": struct{}{}}), "device_id claim is malformed", false},
		{"device_id empty", strict, base(map[string]any{"device_id": ""}), "device_id claim must be 1 to 256 characters of A-Z, a-z, 0-9, '_' and '-'", false},
		{"app_id a number", Options{Delegated: true}, base(map[string]any{"app_id": 7.0}), "app_id claim must be a non-empty string", false},
		{"app_id empty", Options{Delegated: true}, base(map[string]any{"app_id": ""}), "app_id claim must be a non-empty string", false},
		{"app not allowed", strict, base(map[string]any{"app_id": "other"}), "app not allowed", false},
		{"no app_id with allow-list", strict, base(map[string]any{"app_id": nil}), "app not allowed", false},
		{"issuer not allowed", strict, base(map[string]any{"iss": "evil"}), "issuer not allowed", false},
		{"issuer missing", strict, base(map[string]any{"iss": nil}), "issuer not allowed", false},
		{"audience in a list", strict, base(map[string]any{"aud": []any{"other", "transfer"}}), "", false},
		{"audience not in the list", strict, base(map[string]any{"aud": []any{"other", 3.0}}), "audience not allowed", false},
		{"audience not allowed", strict, base(map[string]any{"aud": "other"}), "audience not allowed", false},
		{"audience a number", strict, base(map[string]any{"aud": 1.0}), "audience not allowed", false},
		{"audience with quotes", Options{Delegated: true, Audience: `a"b\`}, base(map[string]any{"aud": `a"b\`}), "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			res := v.VerifyPayload(tc.payload.read, now)
			if tc.want == "" {
				if res.Err != nil {
					t.Fatalf("refused: %v", res.Err)
				}
				if res.Claims.DeviceID != "dev-1" || res.Claims.Kid != DelegatedKid {
					t.Fatalf("claims %+v", res.Claims)
				}
				return
			}
			if res.Err == nil || res.Err.Reason != tc.want || res.Err.NoPayload != tc.noPay {
				t.Fatalf("got %+v, want %q (no payload %v)", res.Err, tc.want, tc.noPay)
			}
		})
	}
}

// A delegated verifier needs no key, and never touches the header path's
// cache or keys.
func TestDelegatedNeedsNoKey(t *testing.T) {
	if _, err := New(Options{Delegated: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("a verifier without keys and not delegated started")
	}
}

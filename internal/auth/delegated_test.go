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

// FuzzVerifyPayload: whatever bytes Envoy hands over for each claim, an
// accepted payload has a well-formed device_id, an unexpired exp (when
// present) and a textual app_id; nothing panics.
func FuzzVerifyPayload(f *testing.F) {
	f.Add([]byte("dev-1"), binary.LittleEndian.AppendUint64(nil, math.Float64bits(float64(now.Unix()+60))), []byte("app"), true, true)
	f.Add([]byte("tomorrow"), []byte("tomorrow"), []byte{1}, true, false)
	f.Fuzz(func(t *testing.T, dev, exp, app []byte, hasExp, hasApp bool) {
		v, err := New(Options{Delegated: true})
		if err != nil {
			t.Fatal(err)
		}
		res := v.VerifyPayload(func(path []string) ([]byte, bool, error) {
			switch {
			case len(path) == 0:
				return []byte("pairs"), true, nil
			case path[0] == "device_id":
				return dev, true, nil
			case path[0] == "exp" && hasExp:
				return exp, true, nil
			case path[0] == "app_id" && hasApp:
				return app, true, nil
			}
			return nil, false, nil
		}, now)
		if res.Err != nil {
			return
		}
		if !validDeviceID(string(dev)) || res.Claims.DeviceID != string(dev) {
			t.Fatalf("accepted device_id %q", dev)
		}
		if hasExp {
			if len(exp) != 8 {
				t.Fatalf("accepted exp of %d bytes", len(exp))
			}
			if f := math.Float64frombits(binary.LittleEndian.Uint64(exp)); math.IsNaN(f) || f < float64(now.Unix()) {
				t.Fatalf("accepted exp %x", exp)
			}
		}
		if hasApp && !textClaim(app) {
			t.Fatalf("accepted app_id %q", app)
		}
	})
}

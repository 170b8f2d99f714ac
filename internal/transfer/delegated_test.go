package transfer

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/internal/config"
)

// metadata is a fake of Envoy's dynamic metadata under the namespace, leaves
// serialised as Envoy does (strings as bytes, numbers as 8-byte doubles).
type metadata map[string]map[string]any

func (m metadata) read(path []string) ([]byte, bool, error) {
	obj, ok := m[path[0]]
	if !ok {
		return nil, false, nil
	}
	if len(path) == 1 {
		return []byte("pairs"), true, nil
	}
	switch v := obj[path[1]].(type) {
	case nil:
		if _, present := obj[path[1]]; present {
			return nil, false, errors.New("serialization failure")
		}
		return nil, false, nil
	case string:
		return []byte(v), true, nil
	case float64:
		return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)), true, nil
	}
	return nil, false, nil
}

func delegatedEngine(t testing.TB, failedKey string, md metadata) *Engine {
	fk := ""
	if failedKey != "" {
		fk = `,"failed_status_key":"` + failedKey + `"`
	}
	cfg, err := config.Parse([]byte(`{"auth":{"verified_payload":{"key":"payload"`+fk+`}},"session_key":{"secret":"`+secret+`"},
	  "merchants":{"staging.luma.gift":{"cluster":"m"}},"backend":{"cluster":"b"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if md != nil {
		e.SetMetadataReader(md.read)
	}
	return e
}

func TestStartDelegated(t *testing.T) {
	good := map[string]any{"device_id": "dev-1", "app_id": "app-1", "exp": float64(now.Unix() + 60)}
	failed := map[string]any{"code": 26.0, "message": "Jwt verification fails"}
	const plain, invalid = `Bearer realm="session-transfer"`, `Bearer realm="session-transfer", error="invalid_token"`
	cases := []struct {
		name      string
		md        metadata
		failedKey string
		auth      []string
		status    int
		desc      string
		www       string
	}{
		{"payload, no header (jwt_authn removed it)", metadata{"payload": good}, "", nil, 0, "", ""},
		{"payload and the header", metadata{"payload": good}, "", []string{"not even a token"}, 0, "", ""},
		{"no payload, no header", metadata{}, "", nil, 401, "x-firmly-authorization header is missing", plain},
		{"no payload, a bare Bearer", metadata{}, "", []string{" Bearer "}, 401, "x-firmly-authorization header is missing", plain},
		{"no payload, a header", metadata{}, "", []string{"Bearer x"}, 401, "invalid device token: not verified", invalid},
		{"no payload, jwt_authn's reason", metadata{"failed": failed}, "failed", []string{"Bearer x"}, 401, "invalid device token: jwt_authn: Jwt verification fails", invalid},
		{"jwt_authn's reason made printable", metadata{"failed": {"message": "a\nb\x00" + strings.Repeat("x", 400)}}, "failed", []string{"Bearer x"}, 401,
			"invalid device token: jwt_authn: a?b?" + strings.Repeat("x", 252), invalid},
		{"repeated header", metadata{"payload": good}, "", []string{"a", "b"}, 401, "x-firmly-authorization header is repeated", invalid},
		{"a claim rule", metadata{"payload": {"device_id": "dev 1"}}, "", nil, 401, "invalid device token: device_id claim must be 1 to 256 characters of A-Z, a-z, 0-9, '_' and '-'", invalid},
		{"no reader is no payload", nil, "", nil, 401, "x-firmly-authorization header is missing", plain},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := delegatedEngine(t, tc.failedKey, tc.md)
			h := headers("POST", path, json_)
			for _, a := range tc.auth {
				h = append(h, [2]string{"x-firmly-authorization", a})
			}
			tr, step := e.Start(h, now)
			if tc.status == 0 {
				if step.Kind != AwaitBody || tr.Claims().DeviceID != "dev-1" || tr.Claims().Kid != "delegated" || tr.Claims().AppID != "app-1" {
					t.Fatalf("step %+v claims %+v", step, tr.Claims())
				}
				return
			}
			r := step.Reply
			if step.Kind != Reply || r.Status != tc.status || r.Error.Description != tc.desc {
				t.Fatalf("got %+v %+v, want %d %q", step, r, tc.status, tc.desc)
			}
			www := ""
			for _, kv := range r.Headers {
				if kv[0] == "www-authenticate" {
					www = kv[1]
				}
			}
			if www != tc.www {
				t.Errorf("www-authenticate %q, want %q", www, tc.www)
			}
		})
	}
}

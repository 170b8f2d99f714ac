package refbackend

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

const key = "k1"

func put(t *testing.T, h http.Handler, path, body string, hdr map[string]string) int {
	r := httptest.NewRequest("PUT", path, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

func TestPutIsIdempotentAndDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	b, err := Open(path, "/v1/sessions/")
	if err != nil {
		t.Fatal(err)
	}
	rec := `{"session_key":"k1","device_id":"d","domain":"x.test","cart":{"cart_id":"c"},"transferred_at":1}`
	hdr := map[string]string{"idempotency-key": key, "x-firmly-device-id": "d"}
	if code := put(t, b.Handler(), "/v1/sessions/k1", rec, hdr); code != 201 {
		t.Errorf("first PUT: %d, want 201", code)
	}
	if code := put(t, b.Handler(), "/v1/sessions/k1", rec, hdr); code != 200 {
		t.Errorf("repeated PUT: %d, want 200", code)
	}
	if b.Count() != 1 {
		t.Errorf("%d records", b.Count())
	}
	b.Close()
	b, err = Open(path, "/v1/sessions/")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, ok := b.Get(key); !ok || string(v) != rec {
		t.Errorf("after reopening: %q %v", v, ok)
	}
}

func TestPutRefusesInconsistentRecords(t *testing.T) {
	b, err := Open(filepath.Join(t.TempDir(), "s.db"), "/v1/sessions/")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	good := `{"session_key":"k1","device_id":"d","domain":"x.test","cart":{},"transferred_at":1}`
	hdr := map[string]string{"idempotency-key": key, "x-firmly-device-id": "d"}
	for name, c := range map[string]struct {
		path, body string
		hdr        map[string]string
	}{
		"not JSON":                {"/v1/sessions/k1", "{", hdr},
		"key differs from path":   {"/v1/sessions/k2", good, map[string]string{"idempotency-key": "k2", "x-firmly-device-id": "d"}},
		"idempotency-key differs": {"/v1/sessions/k1", good, map[string]string{"idempotency-key": "x", "x-firmly-device-id": "d"}},
		"device header differs":   {"/v1/sessions/k1", good, map[string]string{"idempotency-key": key, "x-firmly-device-id": "e"}},
		"no cart":                 {"/v1/sessions/k1", `{"session_key":"k1","device_id":"d","domain":"x","transferred_at":1}`, hdr},
	} {
		if code := put(t, b.Handler(), c.path, c.body, c.hdr); code != 400 {
			t.Errorf("%s: %d, want 400", name, code)
		}
	}
	if b.Count() != 0 {
		t.Errorf("refused records were stored")
	}
}

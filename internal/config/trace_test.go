package config

import (
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/internal/tracecontext"
)

// The trace headers the filter copies from the client cannot also be
// configured as static headers (the callout would carry two).
func TestTraceHeadersAreReserved(t *testing.T) {
	for _, name := range tracecontext.Names {
		if !reservedHeaders[name] {
			t.Errorf("%s is not reserved", name)
		}
		_, err := Parse([]byte(`{"auth":{"hs256_secret":"`+strings.Repeat("s", 32)+`"},"session_key":{"secret":"`+strings.Repeat("k", 32)+`"},
		  "merchants":{"a.example":{"cluster":"m","headers":{"`+name+`":"x"}}},"backend":{"cluster":"b"}}`), nil)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("a static %s header: got %v, want a configuration error naming it", name, err)
		}
	}
}

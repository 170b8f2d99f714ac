package perftest

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
)

// maxModuleBytes is issue 15's size target for plugin.wasm, names kept.
const maxModuleBytes = 4_500_000

// Packages kept out of the module on purpose (RATIONALE.md): each cost
// more than 100 KB for little use, and one stray import brings it back.
var unlinked = []string{
	"fmt.", "internal/fmtsort.", "reflect.Value.", "net/url.", "net/netip.", "encoding/json.", "crypto/x509.",
	"crypto/internal/fips140/aes.", "crypto/internal/fips140/sha3.", "crypto/internal/fips140/hmac.",
}

func TestModuleSizeAndWhatItLinks(t *testing.T) {
	mod := e2etest.PluginWasm(t)
	if len(mod) > maxModuleBytes {
		t.Errorf("plugin.wasm is %d bytes, want at most %d (go run ./e2e/cmd/wasmsize plugin.wasm)", len(mod), maxModuleBytes)
	}
	names := functionNames(t, mod)
	if len(names) < 1000 {
		t.Fatalf("found %d function names: the module has no name section?", len(names))
	}
	// The name section spells a package path's '/' as '/' or '_'.
	slash := strings.NewReplacer("_", "/")
	for _, pre := range unlinked {
		for _, n := range names {
			if strings.HasPrefix(slash.Replace(n), pre) {
				t.Errorf("plugin.wasm links %s (first: %s); see RATIONALE.md on why it stays out", strings.TrimSuffix(pre, "."), n)
				break
			}
		}
	}
}

// functionNames reads the function names of a wasm module's name section.
func functionNames(t *testing.T, b []byte) []string {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("\x00asm\x01\x00\x00\x00")) {
		t.Fatal("plugin.wasm is not a wasm module")
	}
	uleb := func(p *[]byte) uint64 {
		v, n := binary.Uvarint(*p)
		if n <= 0 {
			t.Fatal("malformed module: bad LEB128")
		}
		*p = (*p)[n:]
		return v
	}
	take := func(p *[]byte, n uint64) []byte {
		if n > uint64(len(*p)) {
			t.Fatal("malformed module: truncated")
		}
		out := (*p)[:n]
		*p = (*p)[n:]
		return out
	}
	var names []string
	r := b[8:]
	for len(r) > 0 {
		id := r[0]
		r = r[1:]
		sec := take(&r, uleb(&r))
		if id != 0 {
			continue
		}
		if string(take(&sec, uleb(&sec))) != "name" {
			continue
		}
		for len(sec) > 0 {
			sub := sec[0]
			sec = sec[1:]
			body := take(&sec, uleb(&sec))
			if sub != 1 { // function names
				continue
			}
			for n := uleb(&body); n > 0; n-- {
				uleb(&body) // function index
				names = append(names, string(take(&body, uleb(&body))))
			}
		}
	}
	return names
}

package e2etest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/localstack"
)

// The local stack for end-to-end tests: a real HTTP client over loopback, the
// reference services over TLS, configuration from envoy.yaml.

// DemoHandle is the reference merchant's demo cart.
const DemoHandle = "3f1c2a9e-7b4d-4e8a-9c2f-5d6e7f8a9b0c"

// StartLocal starts the local stack (envoy.yaml, the reference services, an ephemeral session store).
func StartLocal(t *testing.T) *localstack.Stack {
	t.Helper()
	root, err := localstack.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := localstack.Start(ctx, localstack.Options{RepoRoot: root, Wasm: PluginWasm(t), Ephemeral: true, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// LocalResult is the answer to a transfer through the local stack.
type LocalResult struct {
	Status int
	Body   []byte
	Err    APIError
}

// LocalTransfer sends a transfer with a development token.
func LocalTransfer(t *testing.T, st *localstack.Stack, body string) LocalResult {
	t.Helper()
	root, _ := localstack.FindRepoRoot(".")
	tok, err := localstack.DevToken(root, "dev-device-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return LocalTransferWith(t, st, tok, body)
}

// LocalTransferWith sends a transfer with the given device token.
func LocalTransferWith(t *testing.T, st *localstack.Stack, tok, body string) LocalResult {
	t.Helper()
	req, _ := http.NewRequest("POST", st.ProxyURL+"/api/v2/domains/staging.luma.gift/session/transfer", strings.NewReader(body))
	req.Header.Set("content-type", "application/json")
	req.Header.Set("x-firmly-authorization", "Bearer "+tok)
	resp, err := st.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := LocalResult{Status: resp.StatusCode, Body: b}
	if resp.StatusCode != 200 {
		json.Unmarshal(b, &r.Err)
	}
	return r
}

// Admin calls a reference service's admin API and fails the test unless it succeeds.
func Admin(t *testing.T, st *localstack.Stack, method, url string, body any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	resp, err := st.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d", method, url, resp.StatusCode)
	}
}

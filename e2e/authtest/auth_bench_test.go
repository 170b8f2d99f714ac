package authtest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
)

// Token verification inside the module, per algorithm, against the module
// under test and, in the same run, the modules AUTH_BASELINE_WASM lists
// (name=path,name=path; built from another commit or with other tags). The request is a valid token for a merchant that is not
// configured: 422 right after auth, so no callouts. "no-token" is the same
// request refused before verification: subtract it to get the cost of the
// verification alone.
//
// fresh: every request carries a token never seen before (a pool larger
// than the cache, cycled, so an LRU cache always misses): the full parse
// and signature check. same: one token over and over: a cache hit in a
// module with a cache.
//
//	go test ./e2e/authtest -run X -bench AuthVerifyInModule -benchtime 300x
func BenchmarkAuthVerifyInModule(b *testing.B) {
	type module struct {
		name string
		st   *e2etest.Stack
	}
	modules := []module{{"current", e2etest.NewStack(b, e2etest.StackOpts{})}}
	for _, bw := range e2etest.BaselineModules(b, "AUTH_BASELINE_WASM") {
		modules = append(modules, module{bw.Name, e2etest.NewStack(b, e2etest.StackOpts{Wasm: bw.Wasm})})
	}
	// The cursor into a pool survives from one run to the next (-count,
	// b.N rounds), so a fresh token is never one the module has cached.
	cursor := map[string]int{}
	run := func(b *testing.B, st *e2etest.Stack, key string, tokens []string, want int) {
		r := st.Req(b, e2etest.ObjectBody)
		r.Path = "/api/v2/domains/unknown.shop/session/transfer"
		for b.Loop() {
			if tokens == nil {
				r.Headers = r.Headers[:1]
			} else {
				r.Headers[1] = [2]string{"x-firmly-authorization", tokens[cursor[key]%len(tokens)]}
				cursor[key]++
			}
			if resp := st.Do(b, r); resp.Status != want {
				b.Fatalf("status %d %s", resp.Status, resp.Body)
			}
		}
	}
	// Case by case, module after module, so a noisy neighbour hits both.
	cases := []struct {
		name   string
		tokens func(*testing.B) []string
		want   int
	}{
		{"no-token", func(*testing.B) []string { return nil }, 401},
		{"RS256/fresh", func(b *testing.B) []string { return tokenPool(b, "RS256", "rsa-1") }, 422},
		{"ES256/fresh", func(b *testing.B) []string { return tokenPool(b, "ES256", "ec-1") }, 422},
		{"HS256/fresh", func(b *testing.B) []string { return tokenPool(b, "HS256", "") }, 422},
		{"RS256/same", func(b *testing.B) []string { return tokenPool(b, "RS256", "rsa-1")[:1] }, 422},
	}
	for _, c := range cases {
		for _, m := range modules {
			b.Run(c.name+"/"+m.name, func(b *testing.B) { run(b, m.st, c.name+"/"+m.name, c.tokens(b), c.want) })
		}
	}
}

// tokenPool is more distinct tokens than the default cache holds (1024).
var (
	poolMu sync.Mutex
	pools  = map[string][]string{}
)

func tokenPool(b *testing.B, alg, kid string) []string {
	poolMu.Lock()
	defer poolMu.Unlock()
	if p, ok := pools[alg]; ok {
		return p
	}
	p := make([]string, 1100)
	for i := range p {
		c := e2etest.DeviceClaims()
		c["jti"] = fmt.Sprintf("bench-%d", i)
		p[i] = e2etest.Token(b, alg, kid, c)
	}
	pools[alg] = p
	return p
}

package realenvoy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/e2e/localstack"
	"github.com/firmly/session-transfer-filter/e2e/wasmbuild"
)

// hostEra is the host era that emulates a pinned Envoy version.
func hostEra(version string) envoyhost.EnvoyVersion {
	if Era(version) == "1.39" {
		return envoyhost.Envoy139
	}
	return envoyhost.Envoy133
}

// hostName names the host leg that emulates a version's era.
func hostName(version string) string { return "host-" + Era(version) }

// target is one proxy the scenarios run through: a real Envoy, or the
// project's host started by the local stack, both from the shipped envoy.yaml.
type target struct {
	name     string // envoy-1.40.0, host-1.39
	real     bool
	version  string // the Envoy version it is or emulates
	proxyURL string
	adminURL string
	services *localstack.Stack
	client   *http.Client
	// accessLog is the access log's lines so far.
	accessLog func() []string
	// streamContexts counts the stream contexts created in any VM so far.
	streamContexts func(t *testing.T) int
}

func repoRoot(t testing.TB) string {
	root, err := localstack.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// streamContextCall is Envoy's wasm trace line for a stream context's
// creation (a root context has parent 0).
var streamContextCall = regexp.MustCompile(`\[host->vm\] proxy_on_context_create\(\d+, [1-9]\d*\)`)

// envoyTarget starts the real Envoy of a version from the shipped envoy.yaml.
// wasm:trace makes Envoy log every call into the VM, which is how the route
// scope is observed: Envoy keeps no per-context stat.
func envoyTarget(t *testing.T, version string, wasm []byte) *target {
	st := StartStack(t, Setup{RepoRoot: repoRoot(t), Version: version, Wasm: wasm, ComponentLogLevels: "wasm:trace"})
	return &target{
		name: "envoy-" + version, real: true, version: version,
		proxyURL: st.ProxyURL, adminURL: st.AdminURL, services: st.Services,
		client:    newClient(),
		accessLog: st.AccessLog,
		streamContexts: func(t *testing.T) int {
			return len(streamContextCall.FindAllString(st.Log(), -1))
		},
	}
}

// hostContextCall is the host's record of a stream context's creation.
var hostContextCall = regexp.MustCompile(`proxy_on_context_create\(\d+,[1-9]\d*\)$`)

// hostTarget starts the local stack (the project's host) emulating a
// version's era, from envoyConfig ("": the shipped envoy.yaml).
func hostTarget(t *testing.T, version string, wasm []byte, envoyConfig string) (*target, *localstack.Stack) {
	var access lockedBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	st, err := localstack.Start(ctx, localstack.Options{RepoRoot: repoRoot(t), EnvoyConfig: envoyConfig, Wasm: wasm, Ephemeral: true,
		Envoy: hostEra(version), AccessLog: &access})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &target{
		name: hostName(version), version: version,
		proxyURL: st.ProxyURL, adminURL: st.AdminURL, services: st,
		client:    newClient(),
		accessLog: func() []string { return nonEmptyLines(access.String()) },
		streamContexts: func(t *testing.T) int {
			n := 0
			for _, c := range st.Host.Calls() {
				if hostContextCall.MatchString(c) {
					n++
				}
			}
			return n
		},
	}, st
}

// exchange is one request through a target and what came back, with the
// access-log line the request wrote.
type exchange struct {
	status int
	header http.Header
	body   []byte
	log    map[string]any // the access-log line, decoded
}

func (x exchange) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(x.body, &m); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %.200s", x.status, err, x.body)
	}
	return m
}

// errorName is the error body's "error" member.
func (x exchange) errorName(t *testing.T) string {
	name, _ := x.json(t)["error"].(string)
	return name
}

// logField is an access-log field as text ("" when absent).
func (x exchange) logField(name string) string {
	v, _ := x.log[name]
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// do sends one request and waits (bounded) for its access-log line: requests
// of a target run one at a time, so the first new JSON line with this
// method and path is this request's (other lines, such as an admin access
// log on stdout, are skipped).
func (tg *target) do(t *testing.T, method, path, body string, header map[string]string) exchange {
	t.Helper()
	before := len(tg.accessLog())
	req, err := http.NewRequest(method, tg.proxyURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := tg.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s %s: %v", tg.name, method, path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	x := exchange{status: resp.StatusCode, header: resp.Header, body: b}
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines := tg.accessLog()
		for _, l := range lines[min(before, len(lines)):] {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["method"] == method && m["path"] == path {
				x.log = m
				return x
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no access-log line for %s %s (%d)", tg.name, method, path, x.status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const (
	transferPath = "/api/v2/domains/staging.luma.gift/session/transfer"
	demoHandle   = "3f1c2a9e-7b4d-4e8a-9c2f-5d6e7f8a9b0c" // the fixture's session (README)
	demoBody     = `{"handle":"` + demoHandle + `"}`
	demoCartID   = "cart_897fc42c3fdd249a5f6e39d7ba7766af"
)

func (tg *target) transfer(t *testing.T, token, body string) exchange {
	t.Helper()
	h := map[string]string{"content-type": "application/json"}
	if token != "" {
		h["x-firmly-authorization"] = token
	}
	return tg.do(t, "POST", transferPath, body, h)
}

func devToken(t testing.TB) string {
	tok, err := localstack.DevToken(repoRoot(t), "dev-device-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// observations collect, per scenario and target, what each proxy did, for
// the fidelity table: the host must agree with the real Envoy it emulates.
type observations struct {
	mu sync.Mutex
	m  map[string]map[string]string // scenario -> target -> observation
}

func (o *observations) add(scenario, target, what string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]map[string]string{}
	}
	if o.m[scenario] == nil {
		o.m[scenario] = map[string]string{}
	}
	o.m[scenario][target] = what
}

// table prints every scenario's observations and fails on a scenario where
// a host and the real Envoy of its era differ.
func (o *observations) table(t *testing.T) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var names []string
	for s := range o.m {
		names = append(names, s)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, s := range names {
		var targets []string
		for tg := range o.m[s] {
			targets = append(targets, tg)
		}
		sort.Strings(targets)
		fmt.Fprintf(&b, "%s\n", s)
		for _, tg := range targets {
			fmt.Fprintf(&b, "  %-14s %s\n", tg, o.m[s][tg])
		}
		for _, v := range Versions() {
			era := hostEra(v)
			real, okR := o.m[s]["envoy-"+v]
			host, okH := o.m[s][hostName(v)]
			if okR && okH && real != host {
				onlyR, onlyH := setDiff(real, host), setDiff(host, real)
				t.Errorf("fidelity: %s: only in Envoy %s: %s; only in %s (%s): %s", s, v, onlyR, hostName(v), era, onlyH)
			}
		}
	}
	t.Logf("fidelity table (scenario, proxy, what it did):\n%s", b.String())
}

func pluginWasm(t testing.TB) []byte { return wasmbuild.ForTest(t, wasmbuild.PluginPackage) }

// promLine finds a /stats/prometheus sample line by its name and labels.
func promValue(prom, series string) (string, bool) {
	for _, l := range strings.Split(prom, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// admin GETs an admin path of a target.
func (tg *target) admin(t *testing.T, path string) string {
	t.Helper()
	resp, err := tg.client.Get(tg.adminURL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s admin %s: %d %s", tg.name, path, resp.StatusCode, b)
	}
	return string(b)
}

// newClient opens a connection per request, so Envoy spreads requests over
// its workers as it does independent clients.
func newClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

// setDiff lists the parts of an observation (" | "-separated) missing from
// another, so a fidelity failure names the difference, not two long lines.
func setDiff(a, b string) string {
	in := map[string]bool{}
	for _, p := range strings.Split(b, " | ") {
		in[p] = true
	}
	var out []string
	for _, p := range strings.Split(a, " | ") {
		if !in[p] {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return "(nothing: the order differs)"
	}
	return strings.Join(out, " | ")
}

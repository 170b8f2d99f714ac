package realenvoy

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// shippedConfigs are every Envoy configuration the repository ships: each
// envoy*.yaml at the root or under e2e/ that is an Envoy bootstrap (has
// static_resources); the kits' Kubernetes manifests (e2e/envoy-gateway's
// envoyproxy.yaml, say) are checked against their own API types elsewhere.
func shippedConfigs(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	matches, _ := filepath.Glob(filepath.Join(root, "envoy*.yaml"))
	out = append(out, matches...)
	filepath.WalkDir(filepath.Join(root, "e2e"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && strings.HasSuffix(path, "localstack-data") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), "envoy") && strings.HasSuffix(d.Name(), ".yaml") {
			if raw, err := os.ReadFile(path); err == nil && bytes.Contains(raw, []byte("\nstatic_resources:")) {
				out = append(out, path)
			}
		}
		return nil
	})
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatal("no envoy*.yaml found")
	}
	return out
}

// TestRealEnvoyValidate runs `envoy --mode validate` of every pinned version
// on every shipped configuration, with only file paths (and listen
// addresses) substituted: Envoy builds every listener, cluster and filter and
// loads plugin.wasm with its configuration.
func TestRealEnvoyValidate(t *testing.T) {
	t.Parallel() // each of these tests mostly waits on Envoy; they overlap
	root := repoRoot(t)
	wasmPath := filepath.Join(t.TempDir(), "plugin.wasm")
	if err := os.WriteFile(wasmPath, pluginWasm(t), 0o644); err != nil {
		t.Fatal(err)
	}
	configs := shippedConfigs(t, root)
	for _, v := range Versions() {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			bin := Require(t, root, v)
			for _, cfg := range configs {
				rel, _ := filepath.Rel(root, cfg)
				t.Run(rel, func(t *testing.T) {
					t.Parallel()
					raw, err := os.ReadFile(cfg)
					if err != nil {
						t.Fatal(err)
					}
					doc, err := ParseDoc(raw)
					if err != nil {
						t.Fatal(err)
					}
					if err := Rewrite(doc, Substitutions(root, wasmPath, nil)); err != nil {
						t.Fatal(err)
					}
					out, err := Validate(context.Background(), bin, t.TempDir(), doc)
					if err != nil {
						t.Fatalf("Envoy %s rejects %s: %v\n%s", v, rel, err, out)
					}
				})
			}
		})
	}
}

// TestRealEnvoyRewriteChangesOnlyWhereThingsAre checks the substitution's
// promise on every shipped configuration: after Rewrite, the only leaves that
// differ are listen and endpoint addresses and ports, and file names.
func TestRealEnvoyRewriteChangesOnlyWhereThingsAre(t *testing.T) {
	root := repoRoot(t)
	allowed := regexp.MustCompile(`(^admin\.address\.socket_address\.(address|port_value)$)` +
		`|(^static_resources\.listeners\[\d+\]\.address\.socket_address\.(address|port_value)$)` +
		`|(^static_resources\.clusters\[\d+\]\.load_assignment\.endpoints\[\d+\]\.lb_endpoints\[\d+\]\.endpoint\.address\.socket_address\.(address|port_value)$)` +
		`|(\.filename$)`)
	for _, cfg := range shippedConfigs(t, root) {
		rel, _ := filepath.Rel(root, cfg)
		t.Run(rel, func(t *testing.T) {
			raw, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			before, err := ParseDoc(raw)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := ParseDoc(raw)
			clusters := map[string]string{}
			sr, _ := after["static_resources"].(map[string]any)
			for _, c := range list(sr["clusters"]) {
				name, _ := c.(map[string]any)["name"].(string)
				clusters[name] = "127.0.0.1:1"
			}
			if err := Rewrite(after, Substitutions(root, "/tmp/plugin.wasm", clusters)); err != nil {
				t.Fatal(err)
			}
			changed := 0
			for _, p := range diffLeaves("", map[string]any(before), map[string]any(after)) {
				changed++
				if !allowed.MatchString(p) {
					t.Errorf("Rewrite changed %s, which is not an address, port or file name", p)
				}
			}
			if changed == 0 {
				t.Error("Rewrite changed nothing")
			}
		})
	}
}

// diffLeaves lists the paths (a.b[0].c) whose values differ between a and b.
func diffLeaves(path string, a, b any) []string {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return []string{path}
		}
		var out []string
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		for k := range keys {
			out = append(out, diffLeaves(join(k), x[k], y[k])...)
		}
		return out
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return []string{path}
		}
		var out []string
		for i := range x {
			out = append(out, diffLeaves(fmt.Sprintf("%s[%d]", path, i), x[i], y[i])...)
		}
		return out
	default:
		if fmt.Sprint(a) != fmt.Sprint(b) {
			return []string{path}
		}
		return nil
	}
}

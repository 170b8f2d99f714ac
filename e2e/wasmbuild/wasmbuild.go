// Package wasmbuild compiles Go packages to proxy-wasm modules for tests and
// the local runner, with the same flags as build.sh.
package wasmbuild

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Build compiles the package pkg (an import path or a directory relative to
// dir) with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared into out, with
// optional build tags.
func Build(dir, pkg, out string, tags ...string) error {
	args := []string{"build", "-buildmode=c-shared", "-trimpath", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("wasmbuild: go build %s: %w\n%s", pkg, err, stderr.String())
	}
	return nil
}

// PluginPackage is the product plugin's import path.
const PluginPackage = "github.com/firmly/session-transfer-filter/plugin"

var (
	mu    sync.Mutex
	cache = map[string][]byte{}
)

// ForTest returns the compiled module for pkg, building it once per test
// binary. For the product plugin, PLUGIN_WASM names a module already built
// by ./build.sh, which is then used as is.
func ForTest(tb testing.TB, pkg string, tags ...string) []byte {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	key := pkg + " " + strings.Join(tags, ",")
	if b, ok := cache[key]; ok {
		return b
	}
	if path := os.Getenv("PLUGIN_WASM"); path != "" && pkg == PluginPackage && len(tags) == 0 {
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatalf("PLUGIN_WASM: %v", err)
		}
		cache[key] = b
		return b
	}
	touchSources(tb)
	dir, err := os.MkdirTemp("", "wasmbuild")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "module.wasm")
	wd, _ := os.Getwd()
	if err := Build(wd, pkg, out, tags...); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	cache[key] = b
	return b
}

// touchSources reads every Go source and go.mod/go.sum of the module. The
// build runs in a subprocess, whose reads go test cannot see; reading them
// here makes go test's cache notice when the plugin's code changes.
func touchSources(tb testing.TB) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		tb.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(string(bytes.TrimSpace(out)))
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if name := d.Name(); filepath.Ext(name) == ".go" || name == "go.mod" || name == "go.sum" {
			os.ReadFile(path)
		}
		return nil
	})
}

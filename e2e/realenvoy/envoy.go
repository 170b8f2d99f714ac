package realenvoy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// CustomStat prefixes a module's own metrics in Envoy's /stats (Prometheus
// output drops it).
const CustomStat = "wasmcustom."

// Options start an Envoy.
type Options struct {
	// Binary is the envoy executable (Require or Binary finds it).
	Binary string
	// Version names it in logs and errors.
	Version string
	// Config is the (rewritten) bootstrap.
	Config Doc
	// Concurrency is Envoy's worker count (default 2, as the local run's host).
	Concurrency int
	// ComponentLogLevels is Envoy's --component-log-level (default wasm:debug,
	// so the module's debug lines show).
	ComponentLogLevels string
	// LogOut and AccessLogOut, when set, also receive Envoy's log and its
	// stdout access log as they are written (the local run prints them).
	LogOut, AccessLogOut io.Writer
	// StartTimeout bounds the wait for /ready (default 120 s: V8 compiles
	// the 4 MB module with TurboFan, which takes seconds on a busy machine).
	StartTimeout time.Duration
}

// Envoy is a running Envoy process.
type Envoy struct {
	Version string
	// AdminURL is http://127.0.0.1:<admin port>.
	AdminURL string
	// Listeners maps each listener's name to its http://127.0.0.1:<port>.
	Listeners map[string]string
	// Concurrency is the worker count it runs with.
	Concurrency int
	PID         int

	cmd       *exec.Cmd
	exited    chan struct{}
	log       *lockedBuffer // Envoy's own log (stderr)
	accessLog *lockedBuffer // stdout: the stdout access logs
	client    *http.Client
}

// Start runs Envoy with o.Config until the test ends, bound to 127.0.0.1
// only, and returns once /ready says LIVE. The process is killed at cleanup;
// when the test failed, its log and access log are printed.
func Start(t testing.TB, o Options) *Envoy {
	t.Helper()
	e, err := Run(t.TempDir(), o)
	if e != nil {
		t.Cleanup(func() {
			e.Stop()
			if t.Failed() {
				t.Logf("Envoy %s log (pid %d):\n%s\naccess log:\n%s", e.Version, e.PID, tail(e.Log(), 200), e.accessLog.String())
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Run starts Envoy with o.Config written into dir and returns once /ready
// says LIVE; the caller stops it (Stop). On an error after the process
// started, the returned Envoy holds its log.
func Run(dir string, o Options) (*Envoy, error) {
	if o.Concurrency == 0 {
		o.Concurrency = 2
	}
	if o.ComponentLogLevels == "" {
		o.ComponentLogLevels = "wasm:debug"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 120 * time.Second
	}
	cfg, err := o.Config.YAML()
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "envoy.yaml")
	adminPath := filepath.Join(dir, "admin-address")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return nil, err
	}
	e := &Envoy{Version: o.Version, Concurrency: o.Concurrency, exited: make(chan struct{}),
		log: &lockedBuffer{}, accessLog: &lockedBuffer{}, client: &http.Client{Timeout: 10 * time.Second}}
	// --disable-hot-restart: no shared-memory base id, so processes run side
	// by side. --file-flush-interval-msec: Envoy 1.38 writes the stdout access
	// log every 10 s by default; tests read each line after its request.
	e.cmd = exec.Command(o.Binary, "-c", cfgPath, "--disable-hot-restart", "--file-flush-interval-msec", "20",
		"--concurrency", strconv.Itoa(o.Concurrency), "--admin-address-path", adminPath,
		"-l", "info", "--component-log-level", o.ComponentLogLevels)
	e.cmd.Stdout, e.cmd.Stderr = io.Writer(e.accessLog), io.Writer(e.log)
	if o.AccessLogOut != nil {
		e.cmd.Stdout = io.MultiWriter(e.accessLog, o.AccessLogOut)
	}
	if o.LogOut != nil {
		e.cmd.Stderr = io.MultiWriter(e.log, o.LogOut)
	}
	e.cmd.SysProcAttr = procAttr()
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("realenvoy: start Envoy %s: %w", o.Version, err)
	}
	e.PID = e.cmd.Process.Pid
	go func() { e.cmd.Wait(); close(e.exited) }()

	ctx, cancel := context.WithTimeout(context.Background(), o.StartTimeout)
	defer cancel()
	if err := e.waitReady(ctx, adminPath); err != nil {
		e.Stop()
		return e, fmt.Errorf("realenvoy: Envoy %s did not become ready: %w", o.Version, err)
	}
	if err := e.readListeners(); err != nil {
		e.Stop()
		return e, err
	}
	return e, nil
}

// waitReady polls the admin address file, then /ready, until LIVE, the
// process exits or ctx ends.
func (e *Envoy) waitReady(ctx context.Context, adminPath string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-e.exited:
			return fmt.Errorf("the process exited (%v)", e.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if e.AdminURL == "" {
			b, err := os.ReadFile(adminPath)
			if err != nil || len(bytes.TrimSpace(b)) == 0 {
				continue
			}
			e.AdminURL = "http://" + string(bytes.TrimSpace(b))
		}
		if body, status, err := e.get("/ready"); err == nil && status == 200 && strings.TrimSpace(body) == "LIVE" {
			return nil
		}
	}
}

func (e *Envoy) readListeners() error {
	body, status, err := e.get("/listeners?format=json")
	if err != nil || status != 200 {
		return fmt.Errorf("realenvoy: /listeners: %d %v", status, err)
	}
	var ls struct {
		ListenerStatuses []struct {
			Name         string `json:"name"`
			LocalAddress struct {
				SocketAddress struct {
					Address   string `json:"address"`
					PortValue int    `json:"port_value"`
				} `json:"socket_address"`
			} `json:"local_address"`
		} `json:"listener_statuses"`
	}
	if err := json.Unmarshal([]byte(body), &ls); err != nil {
		return fmt.Errorf("realenvoy: /listeners: %w", err)
	}
	e.Listeners = map[string]string{}
	for _, l := range ls.ListenerStatuses {
		sa := l.LocalAddress.SocketAddress
		e.Listeners[l.Name] = fmt.Sprintf("http://%s:%d", sa.Address, sa.PortValue)
	}
	return nil
}

func (e *Envoy) get(path string) (string, int, error) {
	resp, err := e.client.Get(e.AdminURL + path)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// Admin GETs an admin path (/stats, /stats/prometheus, ...) and fails the
// test on anything but 200.
func (e *Envoy) Admin(t testing.TB, path string) string {
	t.Helper()
	body, status, err := e.get(path)
	if err != nil || status != 200 {
		t.Fatalf("Envoy %s admin %s: %d %v", e.Version, path, status, err)
	}
	return body
}

// Stats are Envoy's /stats counters and gauges (name: value lines) whose
// name matches the regular expression filter ("" for all).
func (e *Envoy) Stats(t testing.TB, filter string) map[string]string {
	t.Helper()
	path := "/stats"
	if filter != "" {
		path += "?filter=" + url.QueryEscape(filter)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(e.Admin(t, path)))
	for sc.Scan() {
		if name, val, ok := strings.Cut(sc.Text(), ": "); ok {
			out[name] = val
		}
	}
	return out
}

// Counter is one counter or gauge of /stats (0 when absent).
func (e *Envoy) Counter(t testing.TB, name string) uint64 {
	t.Helper()
	n, err := e.counter(name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *Envoy) counter(name string) (uint64, error) {
	body, status, err := e.get("/stats?filter=" + url.QueryEscape("^"+regexp.QuoteMeta(name)+"$"))
	if err != nil || status != 200 {
		return 0, fmt.Errorf("realenvoy: Envoy %s /stats: %d %v", e.Version, status, err)
	}
	v, _ := strings.CutPrefix(strings.TrimSpace(body), name+": ")
	n, _ := strconv.ParseUint(v, 10, 64)
	return n, nil
}

// waitCounter waits until a counter reaches min, the process exits or ctx ends.
func (e *Envoy) waitCounter(ctx context.Context, name string, min uint64) error {
	for {
		n, err := e.counter(name)
		if err == nil && n >= min {
			return nil
		}
		select {
		case <-e.exited:
			return fmt.Errorf("realenvoy: Envoy %s exited", e.Version)
		case <-ctx.Done():
			return fmt.Errorf("realenvoy: Envoy %s: %s is %d, want at least %d: %w", e.Version, name, n, min, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitCounter waits, bounded by timeout, until a counter reaches min.
func (e *Envoy) WaitCounter(t testing.TB, name string, min uint64, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := e.waitCounter(ctx, name, min); err != nil {
		n, _ := e.counter(name)
		t.Fatalf("Envoy %s: %s is %d after %v, want at least %d; /stats has:\n%s", e.Version, name, n, timeout, min,
			e.Admin(t, "/stats?filter="+url.QueryEscape(name[strings.LastIndexByte(name, '.')+1:])))
	}
}

// Log is Envoy's log so far.
func (e *Envoy) Log() string { return e.log.String() }

// AccessLog is the access log's lines so far (Envoy writes stdout access
// logs when a stream ends).
func (e *Envoy) AccessLog() []string {
	var lines []string
	for _, l := range strings.Split(e.accessLog.String(), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// CPUTime is the user plus system CPU time the process has used so far,
// from /proc/<pid>/stat.
func (e *Envoy) CPUTime() (time.Duration, error) { return ProcessCPUTime(e.PID) }

// Stop kills the process and waits for it (bounded).
func (e *Envoy) Stop() {
	select {
	case <-e.exited:
		return
	default:
	}
	e.cmd.Process.Kill()
	select {
	case <-e.exited:
	case <-time.After(10 * time.Second):
	}
}

// lockedBuffer is an io.Writer safe for the process's writes and the test's reads.
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

// tail is the last lines of a log, without the start-up list of the binary's
// extensions, which says nothing about a failure.
func tail(s string, lines int) string {
	var all []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, "statically linked extensions") && !strings.Contains(l, "[main] [source/server/server.cc:467]   ") {
			all = append(all, l)
		}
	}
	if len(all) > lines {
		all = append([]string{fmt.Sprintf("... (%d earlier lines)", len(all)-lines)}, all[len(all)-lines:]...)
	}
	return strings.Join(all, "\n")
}

package envoyhost

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// These pin how a standard-Go module dies, or survives, on each Envoy
// generation's WASI (SPEC §4, reference §2.3).

func TestSleepKillsTheVMOnEnvoy133(t *testing.T) {
	h := startProbe(t, Config{})
	resp := do(t, h, &Request{Headers: probe("sleep")})
	if resp.Status != 503 || resp.Details != "wasm_fail_stream" {
		t.Errorf("got %d %s, want Envoy's 503 wasm_fail_stream", resp.Status, resp.Details)
	}
	if err := h.Worker(0).Failed(); !errors.Is(err, ErrVMFailed) {
		t.Errorf("VM not failed: %v", err)
	}
	if got := strings.Join(h.LogsAt(LevelError), "\n"); !strings.Contains(got, "poll_oneoff") {
		t.Errorf("error logs do not show the poll_oneoff failure:\n%s", got)
	}
	// Fail closed: every later stream on this worker gets 503 too.
	if resp := do(t, h, &Request{Headers: probe("metrics")}); resp.Status != 503 {
		t.Errorf("after the VM failed: got %d, want 503", resp.Status)
	}
}

func TestSleepBusySpinsButSurvivesOnEnvoy139(t *testing.T) {
	h := startProbe(t, Config{Envoy: Envoy139})
	resp := do(t, h, &Request{Headers: probe("sleep")})
	if resp.Status != 200 || string(resp.Body) != "slept" {
		t.Errorf("got %d %q, want 200 slept\n%s", resp.Status, resp.Body, h.LogText())
	}
}

func TestForcedGCKillsTheVMOnEnvoy133(t *testing.T) {
	// Finding: no timer of the plugin's own is needed. Explicit runtime.GC()
	// with memory for the scavenger to return makes the runtime arm the
	// scavenger's timer, and the next GC's poll_oneoff throws. (Without that
	// memory it depends on the heap: once the bridge stopped allocating per
	// stream, 50 forced GCs over an 8 KiB body survived.) Ordinary
	// allocation (the "gc" mode below) does not.
	body := make([]byte, 8192)
	h := startProbe(t, withUpstream(Config{}, newRecorder(t, nil)))
	if resp := do(t, h, &Request{Method: "POST", Body: body, Headers: probe("forced-gc")}); resp.Status != 503 {
		t.Errorf("Envoy 1.33: got %d, want 503 from the failed VM: %s\n%s", resp.Status, resp.Body, h.LogText())
	}
	h = startProbe(t, withUpstream(Config{Envoy: Envoy139}, newRecorder(t, nil)))
	if resp := do(t, h, &Request{Method: "POST", Body: body, Headers: probe("forced-gc")}); resp.Status != 200 {
		t.Errorf("Envoy 1.39: got %d, want 200\n%s", resp.Status, h.LogText())
	}
}

func TestAllocationChurnSurvivesOnEnvoy133(t *testing.T) {
	h := startProbe(t, Config{})
	for i := 0; i < 50; i++ {
		resp := do(t, h, &Request{Headers: probe("churn", [2]string{"x-probe-bytes", "4000000"})})
		if resp.Status != 200 {
			t.Fatalf("request %d: got %d\n%s", i, resp.Status, h.LogText())
		}
	}
}

func TestUnrecoveredPanicFailsTheVM(t *testing.T) {
	t.Run("fail closed answers 503", func(t *testing.T) {
		h := startProbe(t, Config{})
		resp := do(t, h, &Request{Headers: probe("panic")})
		if resp.Status != 503 || resp.Details != "wasm_fail_stream" {
			t.Errorf("got %d %s, want 503 wasm_fail_stream", resp.Status, resp.Details)
		}
		// On 1.33 the panic path itself reaches poll_oneoff and the message
		// is lost, as the reference describes.
		if got := strings.Join(h.LogsAt(LevelError), "\n"); !strings.Contains(got, "panic during panic") {
			t.Errorf("error logs:\n%s", got)
		}
	})
	t.Run("fail open skips the filter", func(t *testing.T) {
		rec := newRecorder(t, nil)
		h := startProbe(t, withUpstream(Config{FailurePolicy: FailOpen}, rec))
		do(t, h, &Request{Headers: probe("panic")})
		resp := do(t, h, &Request{Headers: probe("echo-headers")})
		if resp.Status != 200 || string(resp.Body) != "upstream says hi" {
			t.Errorf("got %d %q, want the upstream's answer", resp.Status, resp.Body)
		}
	})
}

func TestRandomGetIsCappedAt64KiB(t *testing.T) {
	h := startProbe(t, Config{Envoy: Envoy139})
	if resp := do(t, h, &Request{Headers: probe("random", [2]string{"x-probe-bytes", "65536"})}); resp.Status != 200 {
		t.Errorf("64 KiB: got %d, want 200", resp.Status)
	}
	if resp := do(t, h, &Request{Headers: probe("random", [2]string{"x-probe-bytes", "65537"})}); resp.Status != 503 {
		t.Errorf("64 KiB + 1: got %d, want 503 (crypto/rand treats the EINVAL as fatal)", resp.Status)
	}
}

func TestStdoutAndStderrBecomeLogLines(t *testing.T) {
	h := startProbe(t, Config{})
	do(t, h, &Request{Headers: probe("print")})
	if !slices.Contains(h.LogsAt(LevelInfo), "probe: to stdout") || !slices.Contains(h.LogsAt(LevelError), "probe: to stderr") {
		t.Errorf("logs:\n%s", h.LogText())
	}
}

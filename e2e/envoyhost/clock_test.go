package envoyhost

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var clockStart = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// ticks lists the proxy_on_tick calls the host made, as "<vm>".
func ticks(h *Host) []string {
	var out []string
	for _, c := range h.Calls() {
		if vm, call, _ := strings.Cut(c, " "); strings.HasPrefix(call, "proxy_on_tick(") {
			out = append(out, vm)
		}
	}
	return out
}

func tickLogs(h *Host) []string {
	var out []string
	for _, m := range h.LogsAt(LevelInfo) {
		if strings.HasPrefix(m, "probe: tick ") {
			out = append(out, m)
		}
	}
	return out
}

func at(d time.Duration) string { return clockStart.Add(d).Format(time.RFC3339Nano) }

// Envoy's Wasm::setTickPeriod arms one timer per root context on the
// worker's dispatcher and tickHandler re-arms it after each proxy_on_tick;
// the canary VM is destroyed after proxy_on_configure and never ticks.
func TestTicksFallDueAsTheTestClockAdvances(t *testing.T) {
	clock := NewTestClock(clockStart)
	h := startProbe(t, Config{PluginConfig: []byte("tick"), Workers: 2, Clock: clock})
	clock.Advance(249 * time.Millisecond)
	if got := ticks(h); len(got) != 0 {
		t.Fatalf("ticks before the first period ended: %q", got)
	}
	clock.Advance(751 * time.Millisecond)
	want := []string{"worker_0", "worker_1", "worker_0", "worker_1", "worker_0", "worker_1", "worker_0", "worker_1"}
	if got := ticks(h); !slices.Equal(got, want) {
		t.Errorf("after 1 s at 250 ms: got ticks %q, want %q (the canary never ticks)", got, want)
	}
	// Each tick runs at the time it fell due, and the guest's time.Now()
	// says so.
	var wantLogs []string
	for i := 1; i <= 4; i++ {
		line := fmt.Sprintf("probe: tick %d at %s", i, at(time.Duration(i)*250*time.Millisecond))
		wantLogs = append(wantLogs, line, line)
	}
	if got := tickLogs(h); !slices.Equal(got, wantLogs) {
		t.Errorf("tick logs:\ngot  %q\nwant %q", got, wantLogs)
	}
	if got := clock.Now(); !got.Equal(clockStart.Add(time.Second)) {
		t.Errorf("clock reads %s, want %s", got, clockStart.Add(time.Second))
	}
}

func TestTickPeriodZeroDisablesAndANewPeriodRearmsFromNow(t *testing.T) {
	t.Run("a tick that sets period 0 is the last", func(t *testing.T) {
		clock := NewTestClock(clockStart)
		h := startProbe(t, Config{PluginConfig: []byte("tick-once"), Clock: clock})
		clock.Advance(time.Second)
		if got := ticks(h); len(got) != 1 {
			t.Errorf("got %d ticks, want 1", len(got))
		}
		if got := h.Worker(0).TickPeriod(); got != 0 {
			t.Errorf("tick period %d, want 0", got)
		}
	})
	t.Run("a stream sets the root context's period", func(t *testing.T) {
		clock := NewTestClock(clockStart)
		h := startProbe(t, Config{PluginConfig: []byte("tick"), Clock: clock})
		clock.Advance(400 * time.Millisecond) // one tick at 250 ms
		setTick := func(ms string) {
			resp := do(t, h, &Request{Headers: probe("set-tick", [2]string{"x-probe-tick", ms})})
			if want := "tick period " + ms + ": <nil>"; string(resp.Body) != want {
				t.Fatalf("got %q, want %q", resp.Body, want)
			}
		}
		setTick("300")
		clock.Advance(299 * time.Millisecond)
		if got := len(ticks(h)); got != 1 {
			t.Fatalf("got %d ticks 299 ms after re-arming at 300 ms, want still 1", got)
		}
		clock.Advance(time.Millisecond)
		if got := tickLogs(h); len(got) != 2 || got[1] != "probe: tick 2 at "+at(700*time.Millisecond) {
			t.Fatalf("tick logs %q, want tick 2 at 700 ms", got)
		}
		setTick("0")
		clock.Advance(time.Hour)
		if got := len(ticks(h)); got != 2 {
			t.Errorf("got %d ticks after period 0, want 2", got)
		}
	})
}

func TestGuestTimeFollowsTheTestClock(t *testing.T) {
	clock := NewTestClock(clockStart)
	h := startProbe(t, Config{Clock: clock})
	now := func() string { return string(do(t, h, &Request{Headers: probe("now")}).Body) }
	if got, want := now(), "now="+at(0)+" since-start=0s"; got != want {
		t.Errorf("before advancing: got %q, want %q", got, want)
	}
	clock.Advance(90 * time.Second)
	// time.Now() reads both WASI clocks: realtime for the date, monotonic
	// for time.Since.
	if got, want := now(), "now="+at(90*time.Second)+" since-start=1m30s"; got != want {
		t.Errorf("after 90 s: got %q, want %q", got, want)
	}
}

func TestFailedAndClosedVMsNeverTick(t *testing.T) {
	clock := NewTestClock(clockStart)
	h := startProbe(t, Config{PluginConfig: []byte("tick"), Clock: clock})
	do(t, h, &Request{Headers: probe("panic")})
	clock.Advance(time.Second)
	if got := ticks(h); len(got) != 0 {
		t.Errorf("a failed VM ticked: %q", got)
	}
	h2 := startProbe(t, Config{PluginConfig: []byte("tick"), Clock: clock})
	h2.Close(context.Background())
	clock.Advance(time.Second)
	if got := ticks(h2); len(got) != 0 {
		t.Errorf("a closed VM ticked: %q", got)
	}
}

func TestTicksOnTheRealClock(t *testing.T) {
	h := startProbe(t, Config{})
	if resp := do(t, h, &Request{Headers: probe("set-tick", [2]string{"x-probe-tick", "5"})}); resp.Status != 200 {
		t.Fatalf("set-tick: got %d", resp.Status)
	}
	ctx := testCtx(t)
	for len(ticks(h)) < 3 {
		select {
		case <-ctx.Done():
			t.Fatalf("fewer than 3 ticks at 5 ms before the deadline; logs:\n%s", h.LogText())
		case <-time.After(5 * time.Millisecond):
		}
	}
	h.Close(context.Background())
	if slices.Contains(ticks(h), "canary") {
		t.Error("the canary ticked")
	}
}

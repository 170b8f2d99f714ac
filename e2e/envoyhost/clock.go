package envoyhost

import (
	"context"
	"slices"
	"sync"
	"time"
)

// TestClock is a host clock that tests advance by hand.
//
// While a host runs on a TestClock, proxy_get_current_time_nanoseconds and
// WASI clock_time_get (realtime and monotonic) read it, so the guest's
// time.Now() follows it, and tick timers fire only inside Advance. Time
// stands still between calls to Advance: a guest that sleeps or busy-waits
// for time to pass never wakes.
type TestClock struct {
	advancing sync.Mutex // serialises Advance

	mu    sync.Mutex // guards the fields below; taken after a VM's lock, never before
	start time.Time
	now   time.Time
	hosts []*Host
}

// NewTestClock returns a clock that reads start until advanced.
func NewTestClock(start time.Time) *TestClock {
	return &TestClock{start: start, now: start}
}

// Now is the clock's current time.
func (c *TestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// monotonic is the WASI monotonic clock: nanoseconds since the clock was
// made, plus one so that it is never zero.
func (c *TestClock) monotonic() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return uint64(c.now.Sub(c.start).Nanoseconds()) + 1
}

// Advance moves the clock and, before returning, runs every proxy_on_tick that fell due on
// every worker VM (in time order; each followed by its deferred actions), as Envoy's timers
// would. Callouts a tick dispatches are answered asynchronously as usual (Host.WaitCallouts).
func (c *TestClock) Advance(d time.Duration) {
	if d < 0 {
		panic("envoyhost: TestClock.Advance with a negative duration")
	}
	c.advancing.Lock()
	defer c.advancing.Unlock()
	c.mu.Lock()
	target := c.now.Add(d)
	hosts := slices.Clone(c.hosts)
	c.mu.Unlock()
	for {
		vm, due := nextDueTick(hosts, target)
		if vm == nil {
			break
		}
		c.set(due)
		vm.fireTick(due)
	}
	c.set(target)
}

func (c *TestClock) set(t time.Time) {
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t
	}
	c.mu.Unlock()
}

// nextDueTick finds the earliest tick due at or before target; ties go to
// the host registered first, then the lower worker.
func nextDueTick(hosts []*Host, target time.Time) (*VM, time.Time) {
	var best *VM
	var bestDue time.Time
	for _, h := range hosts {
		for _, vm := range h.workers {
			vm.mu.Lock()
			due, ok := vm.nextTick, vm.ticking()
			vm.mu.Unlock()
			if ok && !due.After(target) && (best == nil || due.Before(bestDue)) {
				best, bestDue = vm, due
			}
		}
	}
	return best, bestDue
}

func (c *TestClock) addHost(h *Host) {
	c.mu.Lock()
	c.hosts = append(c.hosts, h)
	c.mu.Unlock()
}

func (c *TestClock) removeHost(h *Host) {
	c.mu.Lock()
	c.hosts = slices.DeleteFunc(c.hosts, func(x *Host) bool { return x == h })
	c.mu.Unlock()
}

// now is the host's wall-clock time.
func (h *Host) now() time.Time {
	if h.cfg.Clock != nil {
		return h.cfg.Clock.Now()
	}
	return time.Now()
}

// monotonicNanos is the host's WASI monotonic clock.
func (h *Host) monotonicNanos() uint64 {
	if h.cfg.Clock != nil {
		return h.cfg.Clock.monotonic()
	}
	return uint64(time.Since(processStart).Nanoseconds()) + 1
}

// ticking reports whether the VM's tick timer is armed. Envoy's canary VM is
// destroyed right after proxy_on_configure, taking its timer with it; a
// failed or closed VM is never called again.
func (vm *VM) ticking() bool {
	return vm.tickPeriodMs > 0 && !vm.canary() && vm.failed == nil && !vm.closed
}

func (vm *VM) canary() bool { return vm.name == "canary" }

// setTickPeriodLocked is proxy_set_tick_period_milliseconds, as Envoy's
// Wasm::setTickPeriod does it: one timer per root context, re-armed from now
// for a new period, disabled by 0.
func (vm *VM) setTickPeriodLocked(ms uint32) {
	vm.tickPeriodMs = ms
	vm.stopTickLocked()
	if !vm.ticking() {
		return
	}
	period := time.Duration(ms) * time.Millisecond
	vm.nextTick = vm.host.now().Add(period)
	if vm.host.cfg.Clock == nil {
		vm.armRealTimerLocked(period)
	}
}

// armRealTimerLocked schedules the next tick on the real clock. The timer
// runs in its own goroutine and takes the VM lock like every other delivery.
func (vm *VM) armRealTimerLocked(period time.Duration) {
	gen := vm.tickGen
	vm.tickTimer = time.AfterFunc(period, func() {
		growStack(1)
		vm.mu.Lock()
		defer vm.mu.Unlock()
		if gen != vm.tickGen || !vm.ticking() {
			return
		}
		vm.tickLocked(context.Background())
		// Envoy's tickHandler re-enables the timer once the callback
		// returned, unless the callback changed or disabled the period.
		if gen == vm.tickGen && vm.ticking() {
			vm.armRealTimerLocked(time.Duration(vm.tickPeriodMs) * time.Millisecond)
		}
	})
}

// fireTick runs the tick that TestClock.Advance found due at due.
func (vm *VM) fireTick(due time.Time) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if !vm.ticking() || !vm.nextTick.Equal(due) {
		return
	}
	// Scheduled before the callback, so a period the callback sets wins.
	vm.nextTick = due.Add(time.Duration(vm.tickPeriodMs) * time.Millisecond)
	vm.tickLocked(context.Background())
}

func (vm *VM) tickLocked(ctx context.Context) error {
	_, err := vm.callLocked(ctx, vm.rootID, "proxy_on_tick", uint64(vm.rootID))
	vm.runDeferredLocked(ctx)
	return err
}

func (vm *VM) stopTickLocked() {
	vm.tickGen++
	if vm.tickTimer != nil {
		vm.tickTimer.Stop()
		vm.tickTimer = nil
	}
}

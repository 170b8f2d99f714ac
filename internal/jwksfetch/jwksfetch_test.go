package jwksfetch

import (
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Unix(1_800_000_000, 0)

// step is one event on the fake clock: at offset at, either a tick (ask
// Due and compare with want) or the outcome of the fetch in flight.
type step struct {
	at   time.Duration
	tick bool
	want bool // for a tick: whether a fetch is due
	ok   bool // for an outcome
}

func tick(at time.Duration, want bool) step { return step{at: at, tick: true, want: want} }
func success(at time.Duration) step         { return step{at: at, ok: true} }
func failure(at time.Duration) step         { return step{at: at} }

func TestSchedule(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name           string
		refresh, retry time.Duration
		steps          []step
	}{
		{"the first fetch is due on the first tick", 600 * s, 5 * s, []step{
			tick(0, true),
		}},
		{"the first fetch is due however late the first tick comes", 600 * s, 5 * s, []step{
			tick(3*time.Hour, true),
		}},
		{"nothing is due while a fetch is in flight", 600 * s, 5 * s, []step{
			tick(0, true), tick(1*s, false), tick(10*time.Hour, false), success(10 * time.Hour), tick(10*time.Hour+1*s, false),
		}},
		{"after a success the next fetch is due refresh later", 600 * s, 5 * s, []step{
			tick(0, true), success(1 * s), tick(2*s, false), tick(600*s, false), tick(601*s, true),
		}},
		{"refresh is counted from the answer, not from the dispatch", 30 * s, 5 * s, []step{
			tick(0, true), success(20 * s), tick(30*s, false), tick(49*s, false), tick(50*s, true),
		}},
		{"after a failure the next fetch is due retry later", 600 * s, 5 * s, []step{
			tick(0, true), failure(0), tick(4*s, false), tick(5*s, true),
		}},
		{"the retry delay doubles up to refresh", 30 * s, 5 * s, []step{
			tick(0, true), failure(0), // next at 5
			tick(5*s, true), failure(5 * s), // +10: 15
			tick(14*s, false), tick(15*s, true), failure(15 * s), // +20: 35
			tick(34*s, false), tick(35*s, true), failure(35 * s), // +40 capped at 30: 65
			tick(64*s, false), tick(65*s, true), failure(65 * s), // still 30: 95
			tick(94*s, false), tick(95*s, true),
		}},
		{"a success resets the retry delay", 600 * s, 5 * s, []step{
			tick(0, true), failure(0), tick(5*s, true), failure(5 * s), // delay now 10
			tick(15*s, true), success(15 * s), tick(615*s, true), failure(615 * s), tick(619*s, false), tick(620*s, true),
		}},
		{"a failure after a good set retries, the good set's refresh does not apply", 600 * s, 5 * s, []step{
			tick(0, true), success(0), tick(600*s, true), failure(600 * s), tick(605*s, true),
		}},
		{"retry above refresh is clamped to refresh", 30 * s, 60 * s, []step{
			tick(0, true), failure(0), tick(29*s, false), tick(30*s, true),
		}},
		{"an outcome with nothing in flight is ignored", 600 * s, 5 * s, []step{
			success(0), tick(0, true), success(0), success(1 * s), failure(2 * s), tick(599*s, false), tick(600*s, true),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sch := New(tt.refresh, tt.retry)
			for i, st := range tt.steps {
				now := t0.Add(st.at)
				if !st.tick {
					sch.Done(st.ok, now)
					continue
				}
				if got := sch.Due(now); got != st.want {
					t.Fatalf("step %d (tick at +%v): Due = %v, want %v", i, st.at, got, st.want)
				}
			}
		})
	}
}

func TestFailuresCountsConsecutiveFailures(t *testing.T) {
	sch := New(time.Minute, time.Second)
	now := t0
	for i := 1; i <= 3; i++ {
		if !sch.Due(now) {
			t.Fatalf("fetch %d not due at %v (next %v)", i, now, sch.Next())
		}
		sch.Done(false, now)
		if got := sch.Failures(); got != i {
			t.Fatalf("got %d failures, want %d", got, i)
		}
		now = sch.Next()
	}
	sch.Due(now)
	sch.Done(true, now)
	if got := sch.Failures(); got != 0 {
		t.Errorf("after a success: got %d failures, want 0", got)
	}
}

// FuzzNeverTwoInFlight drives the schedule with arbitrary ticks, clock
// jumps (forward and backward) and outcomes, including outcomes for fetches
// that were never dispatched. Properties: Due never returns true while a
// fetch is in flight; every delay between an outcome and the next due fetch
// lies within [retry, refresh]; after a success it is exactly refresh.
func FuzzNeverTwoInFlight(f *testing.F) {
	f.Add(uint64(1), uint16(30), uint16(5), []byte{0, 1, 2, 3, 0, 0, 1})
	f.Add(uint64(7), uint16(600), uint16(1), []byte{0, 0, 0, 2, 2, 0, 3, 3, 0})
	f.Fuzz(func(t *testing.T, seed uint64, refreshS, retryS uint16, ops []byte) {
		refresh := time.Duration(refreshS%3600+1) * time.Second
		retry := time.Duration(retryS%3600+1) * time.Second
		if retry > refresh {
			retry = refresh
		}
		sch := New(refresh, retry)
		r := rand.New(rand.NewPCG(seed, seed>>1))
		now := t0
		inFlight := false
		var lastDone time.Time
		var lastOK, haveDone bool
		for _, op := range ops {
			switch op % 4 {
			case 0: // a tick after a random pause
				now = now.Add(time.Duration(r.Int64N(int64(2 * refresh))))
				due := sch.Due(now)
				if due && inFlight {
					t.Fatalf("Due allowed a second fetch in flight at %v", now)
				}
				if due && haveDone {
					gap := now.Sub(lastDone)
					if lastOK && gap < refresh || !lastOK && gap < retry {
						t.Fatalf("fetch due %v after an outcome (ok=%v), want at least refresh %v / retry %v", gap, lastOK, refresh, retry)
					}
				}
				if haveDone && !inFlight && !due && now.Sub(lastDone) >= refresh {
					t.Fatalf("no fetch due %v after the last outcome, beyond refresh %v", now.Sub(lastDone), refresh)
				}
				inFlight = inFlight || due
			case 1, 2: // an outcome, ok or not
				ok := op%4 == 1
				sch.Done(ok, now)
				if inFlight {
					lastDone, lastOK, haveDone = now, ok, true
				}
				inFlight = false
			case 3: // the clock goes back (a host clock adjustment)
				now = now.Add(-time.Duration(r.Int64N(int64(refresh))))
			}
			if sch.InFlight() != inFlight {
				t.Fatalf("InFlight = %v, want %v", sch.InFlight(), inFlight)
			}
		}
	})
}

package jwksfetch

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestRefetch(t *testing.T) {
	const s = time.Second
	type ev struct {
		at   time.Duration
		op   string // "tick", "refetch", "ok", "fail"
		want any    // bool for tick, RefetchDecision for refetch
	}
	for _, c := range []struct {
		name   string
		window time.Duration
		evs    []ev
	}{
		{"off: an unknown kid never fetches", 0, []ev{
			{0, "tick", true}, {1 * s, "ok", nil}, {time.Hour, "refetch", Refuse},
		}},
		{"inside the window after a scheduled fetch: refused", 30 * s, []ev{
			{0, "tick", true}, {1 * s, "ok", nil}, {29 * s, "refetch", Refuse}, {30 * s, "refetch", Dispatch},
		}},
		{"one dispatch, later requests join it, then the window holds", 30 * s, []ev{
			{0, "tick", true}, {1 * s, "ok", nil},
			{40 * s, "refetch", Dispatch}, {40 * s, "refetch", Join}, {41 * s, "refetch", Join},
			{41 * s, "tick", false}, {42 * s, "ok", nil},
			{43 * s, "refetch", Refuse}, {69 * s, "refetch", Refuse}, {70 * s, "refetch", Dispatch},
		}},
		{"a refetch counts as the refresh: the next scheduled fetch is refresh after it", 30 * s, []ev{
			{0, "tick", true}, {1 * s, "ok", nil},
			{100 * s, "refetch", Dispatch}, {101 * s, "ok", nil},
			{601 * s, "tick", false}, {700 * s, "tick", false}, {701 * s, "tick", true},
		}},
		{"a failed refetch schedules the retry", 30 * s, []ev{
			{0, "tick", true}, {1 * s, "ok", nil},
			{100 * s, "refetch", Dispatch}, {101 * s, "fail", nil},
			{105 * s, "tick", false}, {106 * s, "tick", true},
		}},
		{"a slow scheduled fetch dispatched before the window is joined, not doubled", 30 * s, []ev{
			{0, "tick", true}, {1 * s, "ok", nil},
			{601 * s, "tick", true}, {640 * s, "refetch", Join}, {641 * s, "tick", false},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc := New(600*s, 5*s)
			sc.SetMinRefetch(c.window)
			for i, e := range c.evs {
				now := t0.Add(e.at)
				switch e.op {
				case "tick":
					if got := sc.Due(now); got != e.want {
						t.Fatalf("event %d: Due(%v) = %v, want %v", i, e.at, got, e.want)
					}
				case "refetch":
					if got := sc.Refetch(now); got != e.want {
						t.Fatalf("event %d: Refetch(%v) = %v, want %v", i, e.at, got, e.want)
					}
				default:
					sc.Done(e.op == "ok", now)
				}
			}
		})
	}
}

// A storm of unknown kids, at random times with fetches answered at random,
// never dispatches two fetches less than the window apart, and never has
// two in flight.
func TestRefetchStormAtMostOnePerWindow(t *testing.T) {
	const window = 30 * time.Second
	r := rand.New(rand.NewPCG(1, 2))
	sc := New(600*time.Second, 5*time.Second)
	sc.SetMinRefetch(window)
	now := t0
	sc.Due(now)
	sc.Done(true, now)
	var refetches []time.Time
	for i := 0; i < 100000; i++ {
		now = now.Add(time.Duration(r.IntN(200)) * time.Millisecond)
		switch d := sc.Refetch(now); {
		case d == Dispatch:
			if len(refetches) > 0 && now.Sub(refetches[len(refetches)-1]) < window {
				t.Fatalf("refetch at %v, the previous at %v: inside the window", now, refetches[len(refetches)-1])
			}
			refetches = append(refetches, now)
		case d == Join && !sc.InFlight():
			t.Fatal("joined with no fetch in flight")
		}
		if sc.InFlight() && r.IntN(20) == 0 {
			sc.Done(r.IntN(2) == 0, now)
		}
	}
	if len(refetches) < 2 {
		t.Fatalf("%d refetches over the storm, want several", len(refetches))
	}
}

// Package jwksfetch decides when a worker VM fetches its remote JWKS
// (SPEC §2.2b). It only keeps time: the plugin asks it on every proxy tick
// (a host timer, so the module never arms a Go runtime timer) and reports
// each fetch's outcome. It is pure and knows nothing of HTTP or of keys.
//
// The schedule: the first fetch is due on the first tick; after a success
// the next one is due refresh later; after a failure, retry later, the delay
// doubling on each further failure up to refresh. At most one fetch is in
// flight: while one is, nothing is due.
//
// A token with an unknown kid may ask for a fetch at once (Refetch), at
// most once per min-refetch window counted from the last dispatch of any
// fetch, so clients cannot force fetch storms.
package jwksfetch

import "time"

// Schedule is one VM's fetch schedule. It is not safe for concurrent use;
// a proxy-wasm VM runs one callback at a time.
type Schedule struct {
	refresh, retry time.Duration

	started  bool      // a fetch has been dispatched at least once
	next     time.Time // when the next fetch is due
	inFlight bool
	delay    time.Duration // the current retry delay; 0 after a success
	failures int           // consecutive failures

	minRefetch   time.Duration // 0: Refetch always refuses
	lastDispatch time.Time     // of any fetch
	refetching   bool          // the fetch in flight was asked for by Refetch
}

// New returns a schedule whose first fetch is due at once. retry is
// clamped to (0, refresh].
func New(refresh, retry time.Duration) *Schedule {
	if refresh <= 0 {
		refresh = time.Second
	}
	if retry <= 0 || retry > refresh {
		retry = refresh
	}
	return &Schedule{refresh: refresh, retry: retry}
}

// Due reports whether a fetch should be dispatched at now. True marks the
// fetch in flight: the caller must report it with Done, including when the
// dispatch itself fails.
func (s *Schedule) Due(now time.Time) bool {
	if s.inFlight || (s.started && now.Before(s.next)) {
		return false
	}
	s.started, s.inFlight, s.lastDispatch = true, true, now
	return true
}

// SetMinRefetch sets the refetch window; 0 turns Refetch off.
func (s *Schedule) SetMinRefetch(d time.Duration) { s.minRefetch = max(d, 0) }

// RefetchDecision is Refetch's answer.
type RefetchDecision int

const (
	// Refuse: no fetch now (the window has not passed, or refetch is off);
	// the unknown kid is refused at once.
	Refuse RefetchDecision = iota
	// Join: wait for the fetch in flight.
	Join
	// Dispatch: dispatch a fetch now and wait for it; the caller must
	// report it with Done, as for Due.
	Dispatch
)

// Refetch is asked when a token names a kid the loaded set lacks. Requests
// that arrive while a refetch is in flight join it; otherwise a fetch is
// dispatched only when none was in the last min-refetch window (joining a
// scheduled fetch already in flight instead of starting a second).
func (s *Schedule) Refetch(now time.Time) RefetchDecision {
	switch {
	case s.minRefetch <= 0:
		return Refuse
	case s.inFlight && s.refetching:
		return Join
	case s.started && now.Sub(s.lastDispatch) < s.minRefetch:
		return Refuse
	case s.inFlight:
		return Join
	}
	s.started, s.inFlight, s.refetching, s.lastDispatch = true, true, true, now
	return Dispatch
}

// Done records the outcome of the fetch in flight and schedules the next.
// A call without a fetch in flight is ignored, so a stray answer cannot
// reset the schedule.
func (s *Schedule) Done(ok bool, now time.Time) {
	if !s.inFlight {
		return
	}
	s.inFlight, s.refetching = false, false
	if ok {
		s.delay, s.failures = 0, 0
		s.next = now.Add(s.refresh)
		return
	}
	s.failures++
	if s.delay == 0 {
		s.delay = s.retry
	} else if s.delay *= 2; s.delay > s.refresh {
		s.delay = s.refresh
	}
	s.next = now.Add(s.delay)
}

// InFlight reports whether a fetch is outstanding.
func (s *Schedule) InFlight() bool { return s.inFlight }

// Next is when the next fetch is due (zero before the first one).
func (s *Schedule) Next() time.Time { return s.next }

// Failures is the number of consecutive failed fetches.
func (s *Schedule) Failures() int { return s.failures }

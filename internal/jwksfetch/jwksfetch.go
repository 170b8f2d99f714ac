// Package jwksfetch decides when a worker VM fetches its remote JWKS
// (SPEC §2.2b). It only keeps time: the plugin asks it on every proxy tick
// (a host timer, so the module never arms a Go runtime timer) and reports
// each fetch's outcome. It is pure and knows nothing of HTTP or of keys.
//
// The schedule: the first fetch is due on the first tick; after a success
// the next one is due refresh later; after a failure, retry later, the delay
// doubling on each further failure up to refresh. At most one fetch is in
// flight: while one is, nothing is due.
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
	s.started, s.inFlight = true, true
	return true
}

// Done records the outcome of the fetch in flight and schedules the next.
// A call without a fetch in flight is ignored, so a stray answer cannot
// reset the schedule.
func (s *Schedule) Done(ok bool, now time.Time) {
	if !s.inFlight {
		return
	}
	s.inFlight = false
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

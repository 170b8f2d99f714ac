// Package faults injects failures into the reference services: latency, any
// status, malformed bodies and connection resets, for every request or for
// the requests of one session, a given number of times.
package faults

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Fault is one injected failure. Zero fields do nothing; a fault may
// combine latency with one of status, malformed or reset.
type Fault struct {
	// Match limits the fault to requests whose session (the handle for the
	// merchant, the session key for the backend) equals it; "" matches all.
	Match string `json:"match,omitempty"`
	// LatencyMs delays the answer.
	LatencyMs int `json:"latency_ms,omitempty"`
	// Status answers with this status and Body instead of the real answer.
	Status int    `json:"status,omitempty"`
	Body   string `json:"body,omitempty"`
	// Malformed answers 200 with a body that is not JSON.
	Malformed bool `json:"malformed,omitempty"`
	// Reset closes the connection without an answer (a TCP reset).
	Reset bool `json:"reset,omitempty"`
	// Times is how many requests the fault applies to; 0 means until cleared.
	Times int `json:"times,omitempty"`
}

// Set holds the active faults. It is safe for concurrent use.
type Set struct {
	mu     sync.Mutex
	faults []*Fault
}

// Add activates a fault.
func (s *Set) Add(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Clear removes every fault.
func (s *Set) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// take returns the first fault matching session and uses up one of its times.
func (s *Set) take(session string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Match != "" && f.Match != session {
			continue
		}
		out := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		return &out
	}
	return nil
}

// Apply injects the fault matching session, if any. It reports whether the
// request was answered (or reset) and the caller must stop.
func (s *Set) Apply(w http.ResponseWriter, session string) bool {
	f := s.take(session)
	if f == nil {
		return false
	}
	if f.LatencyMs > 0 {
		time.Sleep(time.Duration(f.LatencyMs) * time.Millisecond)
	}
	switch {
	case f.Reset:
		reset(w)
		return true
	case f.Malformed:
		w.Header().Set("content-type", "application/json")
		w.Write([]byte(`{"cart": {"currency": "USD", "line_items": [`))
		return true
	case f.Status != 0:
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(f.Status)
		w.Write([]byte(f.Body))
		return true
	}
	return false
}

func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := underlyingTCP(conn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func underlyingTCP(c net.Conn) (*net.TCPConn, bool) {
	if tc, ok := c.(*net.TCPConn); ok {
		return tc, true
	}
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		tc, ok := nc.NetConn().(*net.TCPConn)
		return tc, ok
	}
	return nil, false
}

// Handler is the admin API: POST a Fault as JSON to add it, DELETE to clear.
func (s *Set) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			var f Fault
			if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
				http.Error(w, fmt.Sprintf("fault: %v", err), http.StatusBadRequest)
				return
			}
			s.Add(f)
			w.WriteHeader(http.StatusCreated)
		case http.MethodDelete:
			s.Clear()
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("allow", "POST, DELETE")
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
}

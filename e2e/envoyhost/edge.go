package envoyhost

import (
	"strings"
	"sync"
)

// What Envoy does to a request before any HTTP filter runs, and the
// cluster circuit breakers every upstream request passes.

// UnderscoreAction is common_http_protocol_options.headers_with_underscores_action.
type UnderscoreAction int

const (
	// UnderscoresAllow keeps headers whose name has an underscore (Envoy's default).
	UnderscoresAllow UnderscoreAction = iota
	// UnderscoresRejectRequest answers 400 before the connection manager
	// sees the request.
	UnderscoresRejectRequest
	// UnderscoresDropHeader drops such headers.
	UnderscoresDropHeader
)

// Envoy's HTTP/1 codec refuses a header name with an underscore under
// REJECT_REQUEST with a protocol error: ServerConnectionImpl::
// checkHeaderNameForUnderscores sends 400 "Bad Request" through the
// connection manager's local reply, details Http1ResponseCodeDetails::
// InvalidUnderscore, and closes the connection. No filter runs.
const underscoreDetails = "http1.unexpected_underscore"

// admitRequest is the codec and the connection manager receiving the
// request headers, in Envoy's order: the underscore policy (codec), then
// path normalisation (ConnectionManagerImpl::ActiveStream::decodeHeaders).
// It rewrites s.req.headers and reports false when Envoy answered instead.
func (s *Stream) admitRequest() bool {
	cfg := s.vm.host.cfg
	if cfg.HeadersWithUnderscores != UnderscoresAllow {
		kept := s.req.headers[:0:0]
		for _, kv := range s.req.headers {
			if strings.HasPrefix(kv[0], ":") || !strings.Contains(kv[0], "_") {
				kept = append(kept, kv)
				continue
			}
			if cfg.HeadersWithUnderscores == UnderscoresRejectRequest {
				// The codec refuses while it parses: no request headers
				// exist for the access log (%REQ(...)% is empty, as in Envoy).
				s.requestHeadersCopy = nil
				s.localReplyFromEnvoy(400, "Bad Request", underscoreDetails)
				return false
			}
		}
		s.req.headers = kept
	}
	i := s.req.headers.index(":path")
	if i < 0 {
		return true
	}
	// Envoy rewrites :path as it goes, so the access log shows what it
	// became even when the request is refused or redirected.
	path, action := cfg.Path.Apply(s.req.headers[i][1])
	s.req.headers[i][1] = path
	if j := s.requestHeadersCopy.index(":path"); j >= 0 {
		s.requestHeadersCopy[j][1] = path
	}
	switch action {
	case PathReject:
		s.localReplyFromEnvoy(400, "", pathNormalizationFailed)
		return false
	case PathRedirect:
		// The location is the path alone, normalised, query included.
		s.localReply(307, nil, Pairs{{"location", path}}, pathNormalizationFailed)
		return false
	}
	return true
}

func (p Pairs) index(key string) int {
	for i, kv := range p {
		if kv[0] == key {
			return i
		}
	}
	return -1
}

// CircuitBreaker is a cluster's circuit_breakers thresholds (default
// priority).
type CircuitBreaker struct {
	MaxConnections     uint32
	MaxPendingRequests uint32
	MaxRequests        uint32
	MaxRetries         uint32 // not used: the host never retries
}

// DefaultCircuitBreaker is Envoy's thresholds when a cluster sets none
// (or leaves a field unset).
func DefaultCircuitBreaker() CircuitBreaker {
	return CircuitBreaker{MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3}
}

// Envoy's router answers a request its circuit breaker refuses with
// onUpstreamReset(Overflow): 503, x-envoy-overloaded: true, this body and
// these details.
const (
	overflowBody    = "upstream connect error or disconnect/reset before headers. reset reason: overflow"
	overflowDetails = "upstream_reset_before_response_started{overflow}"
)

// breakerState is one cluster's requests: those sent (active) and those
// waiting for a connection (pending).
type breakerState struct {
	active  int
	waiting []*breakerSlot
}

// breakerSlot is one request's place in its cluster's circuit breaker.
type breakerSlot struct {
	h       *Host
	name    string
	granted chan struct{} // closed once the request may be sent
	once    sync.Once
}

// release frees the slot (or leaves the queue); safe to call again.
func (s *breakerSlot) release() {
	s.once.Do(func() {
		h := s.h
		h.mu.Lock()
		defer h.mu.Unlock()
		st := h.breakers[s.name]
		select {
		case <-s.granted:
			// The next pending request takes the freed connection.
			if len(st.waiting) > 0 {
				next := st.waiting[0]
				st.waiting = st.waiting[1:]
				close(next.granted)
				return
			}
			st.active--
		default:
			for i, w := range st.waiting {
				if w == s {
					st.waiting = append(st.waiting[:i], st.waiting[i+1:]...)
					break
				}
			}
		}
	})
}

// acquire admits a request to a cluster as Envoy's HTTP/1 connection pool
// does (ConnPoolImplBase::newStreamImpl): it is sent while fewer than
// max_connections (and max_requests) requests are active, one per
// connection; otherwise it waits as a pending request, and when
// max_pending_requests are already waiting it overflows (ok false). A
// pending request is sent when an active one ends; its timeout runs while
// it waits. Not modelled: Envoy also counts a request pending while its new
// connection is set up, so max_pending_requests 0 refuses even a first
// request on a cold pool (the host refuses only once the active slots are
// full); and with max_requests below max_connections Envoy opens another
// connection and then refuses the request asynchronously (a 503 with
// x-envoy-overloaded to the callback), where the host keeps it pending.
func (h *Host) acquire(name string, c Cluster) (*breakerSlot, bool) {
	cb := DefaultCircuitBreaker()
	if c.CircuitBreaker != nil {
		cb = *c.CircuitBreaker
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.breakers[name]
	if st == nil {
		st = &breakerState{}
		h.breakers[name] = st
	}
	s := &breakerSlot{h: h, name: name, granted: make(chan struct{})}
	switch {
	case uint32(st.active) < min(cb.MaxConnections, cb.MaxRequests):
		st.active++
		close(s.granted)
	case uint32(len(st.waiting)) < cb.MaxPendingRequests:
		st.waiting = append(st.waiting, s)
	default:
		return nil, false
	}
	return s, true
}

// ClusterLoad is a cluster's requests as its circuit breaker counts them:
// sent, and pending (waiting for a connection).
func (h *Host) ClusterLoad(name string) (active, pending int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if st := h.breakers[name]; st != nil {
		return st.active, len(st.waiting)
	}
	return 0, 0
}

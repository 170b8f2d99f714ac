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
	path, action := cfg.Path.Apply(s.req.headers[i][1])
	switch action {
	case PathReject:
		s.localReplyFromEnvoy(400, "", pathNormalizationFailed)
		return false
	case PathRedirect:
		// The location is the path alone, normalised, query included.
		s.localReply(307, nil, Pairs{{"location", path}}, pathNormalizationFailed)
		return false
	}
	s.req.headers[i][1] = path
	if j := s.requestHeadersCopy.index(":path"); j >= 0 {
		s.requestHeadersCopy[j][1] = path
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

// acquire takes a request slot on a cluster, as Envoy's connection pool
// does before it sends a request (ConnPoolImplBase::newStreamImpl): over
// max_requests, or needing a connection beyond max_connections while
// max_pending_requests are already waiting, it overflows. The host opens a
// connection per request (HTTP/1, no pool), so a request counts as pending
// when more than max_connections are in flight; it is still sent at once.
// release frees the slot and is safe to call more than once.
func (h *Host) acquire(name string, c Cluster) (release func(), ok bool) {
	cb := DefaultCircuitBreaker()
	if c.CircuitBreaker != nil {
		cb = *c.CircuitBreaker
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := uint32(h.clusterLoad[name])
	if n >= cb.MaxRequests || n >= cb.MaxConnections && n-cb.MaxConnections >= cb.MaxPendingRequests {
		return nil, false
	}
	h.clusterLoad[name]++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			h.clusterLoad[name]--
			h.mu.Unlock()
		})
	}, true
}

// ClusterLoad is the number of requests in flight to a cluster (router
// and callouts), as its circuit breaker counts them.
func (h *Host) ClusterLoad(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.clusterLoad[name]
}

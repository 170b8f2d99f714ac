package envoyhost

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Why the upstream exchange failed, in the terms Envoy's router uses.
var (
	errConnect       = errors.New("connection failure")
	errBeforeHeaders = errors.New("connection termination")
	errAfterHeaders  = errors.New("reset after response headers")
	errTimeout       = errors.New("upstream request timeout")
	errAborted       = errors.New("aborted")
)

type rawResponse struct {
	headers  Pairs // ":status" first, keys lower-cased
	body     []byte
	trailers Pairs
}

// upstreamRequest is one HTTP/1.1 request to a cluster, written as the
// filter chain lets it through: the head at once (as Envoy's router sends
// headers as soon as they pass the filters), then body chunks as they come.
// It is hand-rolled rather than net/http's Transport, which holds the head
// back until the body starts, so an upstream could not see a request whose
// body the filter is still holding.
type upstreamRequest struct {
	mu       sync.Mutex
	cond     *sync.Cond
	chunks   [][]byte
	eos      bool
	aborted  bool
	finished bool
	conn     net.Conn
	timer    *time.Timer
	timedOut bool
	slot     *breakerSlot  // the cluster's circuit-breaker slot, nil for none
	stop     chan struct{} // closed on abort or timeout, for a request still pending
	stopOnce sync.Once
}

func (u *upstreamRequest) release() {
	if u.slot != nil {
		u.slot.release()
	}
}

func (u *upstreamRequest) stopWaiting() { u.stopOnce.Do(func() { close(u.stop) }) }

// waitForSlot holds a request the circuit breaker queued as pending until a
// request ahead of it ends; false when it was aborted or timed out first.
func (u *upstreamRequest) waitForSlot() bool {
	if u.slot == nil {
		return true
	}
	select {
	case <-u.slot.granted:
		return true
	case <-u.stop:
		return false
	}
}

func dialCluster(ctx context.Context, c Cluster) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return nil, err
	}
	if c.TLS == nil {
		return conn, nil
	}
	tc := tls.Client(conn, c.TLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// startUpstream dials the cluster and sends the request head. done is
// called once, from another goroutine, unless the request was aborted.
// slot, when set, is the request's circuit-breaker slot: a pending request
// waits for it (its timeout running, as in Envoy), and the slot is freed
// once the request ends, however it ends.
func startUpstream(c Cluster, headers Pairs, body []byte, eos bool, timeout time.Duration, slot *breakerSlot, done func(*rawResponse, error)) *upstreamRequest {
	u := &upstreamRequest{slot: slot, stop: make(chan struct{})}
	u.cond = sync.NewCond(&u.mu)
	if len(body) > 0 {
		u.chunks = append(u.chunks, body)
	}
	u.eos = eos
	if timeout > 0 {
		u.timer = time.AfterFunc(timeout, func() {
			u.mu.Lock()
			u.timedOut = true
			conn := u.conn
			u.mu.Unlock()
			if conn != nil {
				conn.Close()
			}
			u.stopWaiting()
			u.cond.Broadcast()
		})
	}
	go func() {
		growStack(1)
		if !u.waitForSlot() {
			u.finish(done, nil, nil) // nothing after an abort; a timeout is answered as one
			return
		}
		if c.Handler != nil {
			u.runHandler(c.Handler, headers, done)
			return
		}
		u.run(c, headers, done)
	}()
	return u
}

// finish ends the request once: nothing is delivered after an abort, and
// a request that outlived its timeout is answered as timed out whatever
// came back.
func (u *upstreamRequest) finish(done func(*rawResponse, error), r *rawResponse, err error) {
	u.mu.Lock()
	aborted, timedOut := u.aborted, u.timedOut
	u.finished = true
	u.mu.Unlock()
	u.release()
	if u.timer != nil {
		u.timer.Stop()
	}
	if aborted {
		return
	}
	if timedOut {
		r, err = nil, errTimeout
	}
	done(r, err)
}

func (u *upstreamRequest) run(c Cluster, headers Pairs, done func(*rawResponse, error)) {
	finish := func(r *rawResponse, err error) { u.finish(done, r, err) }
	dialTimeout := 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	conn, err := dialCluster(ctx, c)
	cancel()
	if err != nil {
		finish(nil, fmt.Errorf("%w: %v", errConnect, err))
		return
	}
	u.mu.Lock()
	if u.aborted || u.timedOut {
		u.mu.Unlock()
		conn.Close()
		finish(nil, errAborted)
		return
	}
	u.conn = conn
	u.mu.Unlock()
	defer conn.Close()

	w := bufio.NewWriter(conn)
	u.mu.Lock()
	chunked := !(u.eos && len(u.chunks) <= 1)
	var fixed []byte
	if !chunked && len(u.chunks) == 1 {
		fixed = u.chunks[0]
		u.chunks = nil
	}
	u.mu.Unlock()
	writeHead(w, headers, chunked, len(fixed))
	w.Write(fixed)
	if err := w.Flush(); err != nil {
		finish(nil, fmt.Errorf("%w: %v", errBeforeHeaders, err))
		return
	}

	respCh := make(chan struct{})
	var resp *rawResponse
	var respErr error
	go func() {
		resp, respErr = readResponse(conn)
		close(respCh)
	}()
	if chunked {
		u.writeChunks(w)
	}
	<-respCh
	finish(resp, respErr)
}

func writeHead(w *bufio.Writer, headers Pairs, chunked bool, length int) {
	method, path, authority := firstValue(headers, ":method"), firstValue(headers, ":path"), firstValue(headers, ":authority")
	fmt.Fprintf(w, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, authority)
	for _, kv := range headers {
		switch {
		case strings.HasPrefix(kv[0], ":"), kv[0] == "host", kv[0] == "content-length", kv[0] == "transfer-encoding", kv[0] == "connection":
			continue
		}
		fmt.Fprintf(w, "%s: %s\r\n", kv[0], kv[1])
	}
	if chunked {
		w.WriteString("transfer-encoding: chunked\r\n")
	} else if length > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
		fmt.Fprintf(w, "content-length: %d\r\n", length)
	}
	w.WriteString("\r\n")
}

func (u *upstreamRequest) writeChunks(w *bufio.Writer) {
	for {
		u.mu.Lock()
		for len(u.chunks) == 0 && !u.eos && !u.aborted && !u.timedOut {
			u.cond.Wait()
		}
		chunks, eos, stop := u.chunks, u.eos, u.aborted || u.timedOut
		u.chunks = nil
		u.mu.Unlock()
		if stop {
			return
		}
		for _, c := range chunks {
			if len(c) == 0 {
				continue
			}
			fmt.Fprintf(w, "%x\r\n", len(c))
			w.Write(c)
			w.WriteString("\r\n")
		}
		if eos {
			w.WriteString("0\r\n\r\n")
		}
		if w.Flush() != nil || eos {
			return
		}
	}
}

// write queues body bytes for the upstream; it never blocks the VM.
func (u *upstreamRequest) write(b []byte, eos bool) {
	u.mu.Lock()
	if len(b) > 0 {
		u.chunks = append(u.chunks, append([]byte(nil), b...))
	}
	u.eos = u.eos || eos
	u.mu.Unlock()
	u.cond.Broadcast()
}

// abort resets the upstream request (TCP RST where possible). It reports
// whether the request was still in progress.
func (u *upstreamRequest) abort() bool {
	u.mu.Lock()
	if u.aborted || u.finished {
		u.mu.Unlock()
		return false
	}
	u.aborted = true
	conn := u.conn
	u.mu.Unlock()
	// Envoy frees the slot when it resets the request.
	u.release()
	u.stopWaiting()
	u.cond.Broadcast()
	if conn != nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		conn.Close()
	}
	return true
}

func readResponse(conn net.Conn) (*rawResponse, error) {
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBeforeHeaders, err)
	}
	defer resp.Body.Close()
	r := &rawResponse{headers: Pairs{{":status", strconv.Itoa(resp.StatusCode)}}}
	for k, vs := range resp.Header {
		for _, v := range vs {
			r.headers = append(r.headers, [2]string{strings.ToLower(k), v})
		}
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errAfterHeaders, err)
	}
	r.body = body
	for k, vs := range resp.Trailer {
		for _, v := range vs {
			r.trailers = append(r.trailers, [2]string{strings.ToLower(k), v})
		}
	}
	return r, nil
}

// routerReply turns an upstream failure into the answer Envoy's router
// generates: 504 on timeout, 503 on connection errors before headers.
func routerReply(err error) (int, string, string) {
	switch {
	case errors.Is(err, errTimeout):
		return 504, "upstream request timeout", "upstream_response_timeout"
	case errors.Is(err, errConnect):
		return 503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure", "upstream_reset_before_response_started{connection_failure}"
	default:
		return 503, "upstream connect error or disconnect/reset before headers. reset reason: connection termination", "upstream_reset_before_response_started{connection_termination}"
	}
}

// --- the router ------------------------------------------------------------

func (h *Host) route(path string) (Route, bool) {
	bare, _, _ := strings.Cut(path, "?")
	for _, r := range h.cfg.Routes {
		if r.Regex != nil {
			if loc := r.Regex.FindStringIndex(bare); loc != nil && loc[0] == 0 && loc[1] == len(bare) {
				return r, true
			}
			continue
		}
		if strings.HasPrefix(path, r.Prefix) || r.CaseInsensitive && len(path) >= len(r.Prefix) && strings.EqualFold(path[:len(r.Prefix)], r.Prefix) {
			return r, true
		}
	}
	return Route{}, false
}

// routeRequest is the router filter receiving the request headers: it
// opens the upstream request at once.
func (s *Stream) routeRequest(headers Pairs, eos bool) {
	h := s.vm.host
	route, ok := h.route(firstValue(headers, ":path"))
	if !ok {
		s.localReplyFromEnvoy(404, "", "route_not_found")
		return
	}
	cluster, ok := h.cfg.Clusters[route.Cluster]
	if !ok {
		s.localReplyFromEnvoy(503, "no healthy upstream", "no_healthy_upstream")
		return
	}
	slot, ok := h.acquire(route.Cluster, cluster)
	if !ok {
		s.event("upstream: overflow %s", route.Cluster)
		s.localReply(503, []byte(overflowBody), Pairs{{"x-envoy-overloaded", "true"}}, overflowDetails)
		return
	}
	timeout := route.Timeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	s.event("upstream: open %s", route.Cluster)
	s.upstreamOpen = true
	s.upstream = startUpstream(cluster, headers, nil, eos, timeout, slot, func(r *rawResponse, err error) {
		defer s.lock()()
		if s.finished {
			return
		}
		s.upstream = nil
		if err != nil {
			status, body, details := routerReply(err)
			if errors.Is(err, errAfterHeaders) {
				s.reset("upstream_reset_after_response_started")
				return
			}
			s.event("upstream: %v", err)
			s.localReplyFromEnvoy(status, body, details)
			return
		}
		s.event("upstream: %s", firstValue(r.headers, ":status"))
		// Envoy's router sets these details when upstream headers arrive; a
		// local reply from the response path replaces them.
		s.mu.Lock()
		s.resp.Details = "via_upstream"
		s.mu.Unlock()
		s.encode(r.headers, r.body, len(r.body) == 0)
	})
}

// UpstreamOpened reports whether the router opened a request to the
// route's cluster for this stream.
func (s *Stream) UpstreamOpened() bool {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return s.upstreamOpen
}

package envoyhost

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
)

// direction is one side of a stream as Envoy's filter manager sees it for
// the Wasm filter: the request (decoder) side, whose next hop is the router,
// or the response (encoder) side, whose next hop is the downstream client.
type direction struct {
	response bool

	headers         Pairs
	headersEOS      bool
	headersVisible  bool // the filter may read the headers (not yet passed on)
	headersPassed   bool
	stopAll         bool // StopAllIteration: Envoy holds data and trailers
	stopHeadersOnly bool // StopIteration (allow_on_headers_stop_iteration)

	body        []byte // what the filter sees as HTTP_*_BODY
	bodyVisible bool
	buffering   bool // the filter paused a body callback
	bodyEOS     bool

	held     []byte // data Envoy holds while stopAll
	heldData bool
	heldEOS  bool

	trailers        Pairs
	trailersVisible bool
	trailersHeld    bool
}

// Response is what the downstream client received.
type Response struct {
	Status   int
	Headers  Pairs
	Body     []byte
	Trailers Pairs
	// Local is true when Envoy or the filter generated the response.
	Local bool
	// Details is the response code details: via_upstream for an upstream
	// answer, else those of the local response (for example
	// wasm_fail_stream or the filter's details string).
	Details string
	// Reset is true when the stream was reset instead of answered.
	Reset bool
	// FilterState is what the filter set with proxy_set_property, by
	// Envoy's key (wasm.<property>), as of the end of the stream.
	FilterState map[string]string
}

// Header returns the first value of a response header.
func (r *Response) Header(key string) string {
	v, _ := r.Headers.Get(key)
	return v
}

// Stream is one downstream HTTP stream through the filter.
type Stream struct {
	vm       *VM
	id       uint32
	created  bool
	bypass   bool // fail-open after a VM failure: the filter is skipped
	req, res direction
	inLog    bool

	requestHeadersCopy Pairs // for request.* properties
	started            time.Time
	filterState        map[string][]byte           // wasm.<key>, set by proxy_set_property
	metadata           map[string]*structpb.Struct // dynamic filter_metadata, by namespace

	upstream     *upstreamRequest
	upstreamOpen bool

	mu        sync.Mutex // guards resp, finished and events for readers
	resp      Response
	respBegun bool
	finished  bool
	done      chan struct{}
	events    []string
}

// NewStream opens a stream on the next worker VM.
func (h *Host) NewStream() *Stream {
	vm := h.pickWorker()
	s := &Stream{vm: vm, id: h.newContextID(), done: make(chan struct{})}
	s.res.response = true
	return s
}

func (s *Stream) dir(response bool) *direction {
	if response {
		return &s.res
	}
	return &s.req
}

// ID is the stream's context id.
func (s *Stream) ID() uint32 { return s.id }

// Done is closed once the stream has ended (answered, reset or cancelled)
// and its context was deleted.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Events lists what happened to the stream outside the filter, such as
// "upstream: open", "upstream: reset" and "downstream: 200".
func (s *Stream) Events() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

func (s *Stream) event(format string, args ...any) {
	s.mu.Lock()
	s.events = append(s.events, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

// Wait blocks until the stream ends and returns the downstream response.
func (s *Stream) Wait(ctx context.Context) (*Response, error) {
	select {
	case <-s.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("host: stream %d: no response: %w (events %v)", s.id, ctx.Err(), s.Events())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.resp
	return &r, nil
}

func (s *Stream) lock() func() {
	s.vm.mu.Lock()
	return func() {
		s.vm.runDeferredLocked(context.Background())
		s.vm.mu.Unlock()
	}
}

// SendHeaders delivers the request headers (pseudo-headers included).
func (s *Stream) SendHeaders(h Pairs, endOfStream bool) {
	var jwt jwtVerdict
	if ja := s.vm.host.cfg.JwtAuthn; ja != nil {
		// Before the VM lock: it may fetch a JWKS.
		jwt = ja.decode(s.vm.host, lowerKeys(h))
	}
	defer s.lock()()
	if s.finished {
		return
	}
	if s.vm.host.cfg.JwtAuthn != nil {
		s.metadata = jwt.metadata
		if r := jwt.reply; r != nil {
			s.requestHeadersCopy = append(Pairs(nil), h...)
			s.started = s.vm.host.now()
			s.req.headers = lowerKeys(h)
			s.localReply(r.status, []byte(r.body), Pairs{{"www-authenticate", r.wwwAuthenticate}}, r.details)
			return
		}
		h = jwt.headers
	}
	s.requestHeadersCopy = append(Pairs(nil), h...)
	s.started = s.vm.host.now()
	s.req.headers = lowerKeys(h)
	s.req.headersEOS = endOfStream
	s.req.bodyEOS = endOfStream
	if !s.admitRequest() {
		return
	}
	vm := s.vm
	if !vm.host.filterEnabled(firstValue(s.req.headers, ":path")) {
		// The route disables the filter: Envoy never creates it.
		s.bypass = true
		s.passHeaders(&s.req)
		return
	}
	if vm.failed != nil {
		if vm.host.cfg.FailurePolicy == FailOpen {
			s.bypass = true
			s.passHeaders(&s.req)
			return
		}
		s.localReplyFromEnvoy(503, "", "wasm_fail_stream")
		return
	}
	vm.streams[s.id] = s
	if _, err := vm.callLocked(context.Background(), s.id, "proxy_on_context_create", uint64(s.id), uint64(vm.rootID)); err != nil {
		s.failStream()
		return
	}
	s.created = true
	s.onHeaders(&s.req)
}

// SendData delivers a request body chunk.
func (s *Stream) SendData(b []byte, endOfStream bool) {
	defer s.lock()()
	if s.finished || s.req.headers == nil {
		return
	}
	s.onData(&s.req, b, endOfStream)
}

// SendTrailers delivers request trailers; the last body chunk then had
// endOfStream false, as with HTTP/2 trailers.
func (s *Stream) SendTrailers(t Pairs) {
	defer s.lock()()
	if s.finished || s.req.headers == nil {
		return
	}
	s.onTrailers(&s.req, lowerKeys(t))
}

// Cancel is the downstream going away: Envoy resets the stream, then calls
// proxy_on_log, proxy_on_done and proxy_on_delete. Callouts stay in flight.
func (s *Stream) Cancel() {
	defer s.lock()()
	if s.finished {
		return
	}
	s.event("downstream: reset")
	s.mu.Lock()
	s.resp.Reset = true
	s.mu.Unlock()
	s.finish()
}

func lowerKeys(p Pairs) Pairs {
	out := make(Pairs, len(p))
	for i, kv := range p {
		out[i] = [2]string{strings.ToLower(kv[0]), kv[1]}
	}
	return out
}

// call runs a stream callback and returns its action; a local response
// queued during the call forces Pause. A trap fails the stream.
func (s *Stream) call(name string, args ...uint64) (action uint64, ok bool) {
	if s.bypass || s.vm.failed != nil {
		return actionContinue, !s.finished
	}
	res, err := s.vm.callLocked(context.Background(), s.id, name, append([]uint64{uint64(s.id)}, args...)...)
	if err != nil {
		s.failStream()
		return actionPause, false
	}
	if s.vm.localSent {
		return actionPause, true
	}
	return res, true
}

func boolArg(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func (s *Stream) callbackNames(d *direction) (headers, body, trailers string) {
	if d.response {
		return "proxy_on_response_headers", "proxy_on_response_body", "proxy_on_response_trailers"
	}
	return "proxy_on_request_headers", "proxy_on_request_body", "proxy_on_request_trailers"
}

func (s *Stream) onHeaders(d *direction) {
	name, _, _ := s.callbackNames(d)
	d.headersVisible = true
	action, ok := s.call(name, uint64(len(d.headers)), boolArg(d.headersEOS))
	if !ok {
		return
	}
	switch {
	case action == actionContinue:
		s.passHeaders(d)
	case !d.response && s.vm.host.cfg.AllowOnHeadersStopIteration && action == actionPause:
		d.stopHeadersOnly = true
	default:
		// Envoy maps a header Pause to StopAllIterationAndWatermark.
		d.stopAll = true
	}
}

func (s *Stream) onData(d *direction, chunk []byte, eos bool) {
	if d.stopAll {
		d.held = append(d.held, chunk...)
		d.heldData, d.heldEOS = true, eos
		s.checkLimit(d, len(d.held))
		return
	}
	_, name, _ := s.callbackNames(d)
	d.body = append(d.body, chunk...)
	d.bodyEOS = eos
	d.bodyVisible = true
	action, ok := s.call(name, uint64(len(d.body)), boolArg(eos))
	if !ok {
		return
	}
	if action == actionContinue {
		d.stopHeadersOnly = false
		s.passHeaders(d)
		s.passData(d)
		return
	}
	// StopIterationAndBuffer: later chunks are appended and the filter is
	// called again with the total buffered size.
	d.buffering = true
	s.checkLimit(d, len(d.body))
}

func (s *Stream) onTrailers(d *direction, t Pairs) {
	d.trailers = t
	if d.stopAll {
		d.trailersHeld = true
		return
	}
	_, _, name := s.callbackNames(d)
	d.trailersVisible = true
	action, ok := s.call(name, uint64(len(t)))
	if !ok {
		return
	}
	if action == actionContinue {
		d.stopHeadersOnly = false
		s.passHeaders(d)
		s.passData(d)
		s.passTrailers(d)
		return
	}
	d.trailersHeld = true
}

// resume is proxy_continue_stream, run after the VM call returned.
func (s *Stream) resume(response bool) {
	if s.finished {
		return
	}
	d := s.dir(response)
	if d.stopAll {
		d.stopAll = false
		s.passHeaders(d)
		// Envoy re-delivers what it held to the filter that stopped.
		if d.heldData {
			held, eos := d.held, d.heldEOS
			d.held, d.heldData = nil, false
			s.onData(d, held, eos)
		}
		// The trailers reach the filter even while it buffers the body:
		// they are how it learns the body has ended.
		if d.trailersHeld && !s.finished && !d.stopAll {
			d.trailersHeld = false
			s.onTrailers(d, d.trailers)
		}
		return
	}
	d.stopHeadersOnly = false
	s.passHeaders(d)
	if d.buffering || len(d.body) > 0 {
		s.passData(d)
	}
	if d.trailersHeld {
		s.passTrailers(d)
	}
}

func (s *Stream) checkLimit(d *direction, n int) {
	if n <= s.vm.host.cfg.BufferLimit {
		return
	}
	if d.response {
		s.localReplyFromEnvoy(500, "Internal Server Error", "response_payload_too_large")
		return
	}
	s.localReplyFromEnvoy(413, "Payload Too Large", "request_payload_too_large")
}

// --- next hops -------------------------------------------------------------

func (s *Stream) passHeaders(d *direction) {
	if d.headersPassed || s.finished {
		return
	}
	d.headersPassed = true
	d.headersVisible = false // Envoy drops its pointer to passed-on headers
	if d.response {
		s.mu.Lock()
		s.respBegun = true
		s.resp.Headers = append(Pairs(nil), d.headers...)
		s.resp.Status, _ = strconv.Atoi(firstValue(d.headers, ":status"))
		s.mu.Unlock()
		if d.headersEOS {
			s.finish()
		}
		return
	}
	s.routeRequest(d.headers, d.headersEOS)
}

func (s *Stream) passData(d *direction) {
	if s.finished {
		return
	}
	body, eos := d.body, d.bodyEOS
	d.body, d.bodyVisible, d.buffering = nil, false, false
	if d.response {
		s.mu.Lock()
		s.resp.Body = append(s.resp.Body, body...)
		s.mu.Unlock()
		if eos {
			s.finish()
		}
		return
	}
	if s.upstream != nil {
		s.upstream.write(body, eos)
	}
}

func (s *Stream) passTrailers(d *direction) {
	if s.finished {
		return
	}
	d.trailersHeld = false
	if d.response {
		s.mu.Lock()
		s.resp.Trailers = d.trailers
		s.mu.Unlock()
		s.finish()
		return
	}
	if s.upstream != nil {
		s.upstream.write(nil, true)
	}
}

func firstValue(p Pairs, k string) string {
	v, _ := p.Get(k)
	return v
}

// --- responses ---------------------------------------------------------------

// localReply is a local response sent by the filter (deferred until its
// call returned). It resets any upstream request and, like Envoy, runs the
// response through the encoder callbacks of the filter chain.
func (s *Stream) localReply(status int, body []byte, headers Pairs, details string) {
	if s.finished {
		return
	}
	if s.respBegun {
		// Too late for a local response: Envoy resets the stream.
		s.reset("local_reply_after_response_started")
		return
	}
	s.mu.Lock()
	s.resp.Local, s.resp.Details = true, details
	s.mu.Unlock()
	s.abortUpstream()
	h := Pairs{{":status", strconv.Itoa(status)}}
	h = append(h, lowerKeys(headers)...)
	if len(body) > 0 {
		if _, ok := h.Get("content-type"); !ok {
			h = append(h, [2]string{"content-type", "text/plain"})
		}
	}
	h = append(h, [2]string{"content-length", strconv.Itoa(len(body))})
	s.event("local reply: %d %s", status, details)
	s.encode(h, body, len(body) == 0)
}

// localReplyFromEnvoy is a response Envoy itself generates (413, 503
// wasm_fail_stream, router errors).
func (s *Stream) localReplyFromEnvoy(status int, body, details string) {
	s.localReply(status, []byte(body), nil, details)
}

// failStream is Envoy's reaction to a VM failure during a stream.
func (s *Stream) failStream() {
	if s.vm.host.cfg.FailurePolicy == FailOpen {
		s.bypass = true
		s.passHeaders(&s.req)
		s.passData(&s.req)
		return
	}
	s.localReplyFromEnvoy(503, "", "wasm_fail_stream")
	if !s.finished {
		s.finish()
	}
}

// encode feeds a response (upstream or local) through the filter's encoder
// callbacks towards the downstream.
func (s *Stream) encode(headers Pairs, body []byte, headersEOS bool) {
	d := &s.res
	d.headers, d.headersEOS = headers, headersEOS
	d.bodyEOS = headersEOS
	if !s.created || s.bypass || s.vm.failed != nil {
		s.passHeaders(d)
		if !headersEOS {
			d.body, d.bodyEOS = body, true
			s.passData(d)
		}
		return
	}
	s.onHeaders(d)
	if !headersEOS && !s.finished {
		s.onData(d, body, true)
	}
}

// reset ends the stream without a response.
func (s *Stream) reset(details string) {
	if s.finished {
		return
	}
	s.mu.Lock()
	s.resp.Reset, s.resp.Details = true, details
	s.mu.Unlock()
	s.event("stream reset: %s", details)
	s.finish()
}

// finish ends the stream: the upstream is reset if still open, then Envoy's
// order: proxy_on_log, proxy_on_done, proxy_on_delete.
func (s *Stream) finish() {
	if s.finished {
		return
	}
	s.abortUpstream()
	s.mu.Lock()
	s.finished = true
	if s.resp.Status != 0 {
		s.events = append(s.events, fmt.Sprintf("downstream: %d", s.resp.Status))
	}
	s.mu.Unlock()
	if s.created && s.vm.failed == nil {
		s.inLog = true
		ctx := context.Background()
		s.vm.callLocked(ctx, s.id, "proxy_on_log", uint64(s.id))
		s.inLog = false
		s.vm.callLocked(ctx, s.id, "proxy_on_done", uint64(s.id))
		s.vm.callLocked(ctx, s.id, "proxy_on_delete", uint64(s.id))
	}
	delete(s.vm.streams, s.id)
	s.mu.Lock()
	for k, v := range s.filterState {
		if s.resp.FilterState == nil {
			s.resp.FilterState = map[string]string{}
		}
		s.resp.FilterState[k] = string(v)
	}
	s.mu.Unlock()
	s.writeAccessLog()
	close(s.done)
}

func (s *Stream) abortUpstream() {
	if s.upstream != nil {
		if s.upstream.abort() {
			s.event("upstream: reset")
		}
	}
}

// Request is a whole downstream request for Do.
type Request struct {
	Method    string // default GET
	Path      string // default /
	Authority string // default example.com
	Scheme    string // default http
	Headers   Pairs
	Body      []byte
	// ChunkSize splits Body into chunks of at most this many bytes
	// (0: one chunk).
	ChunkSize int
	Trailers  Pairs
	// Metadata is dynamic filter_metadata (by namespace) that a filter
	// before the Wasm filter set, for hosts without JwtAuthn (benchmarks).
	Metadata map[string]*structpb.Struct
}

// HeaderPairs are the request's headers with pseudo-headers first.
func (r *Request) HeaderPairs() Pairs {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	h := Pairs{
		{":method", def(r.Method, "GET")}, {":path", def(r.Path, "/")},
		{":authority", def(r.Authority, "example.com")}, {":scheme", def(r.Scheme, "http")},
	}
	return append(h, r.Headers...)
}

// Do sends a whole request on a new stream and waits for its response.
func (h *Host) Do(ctx context.Context, r *Request) (*Response, error) {
	s := h.NewStream()
	s.Send(r)
	return s.Wait(ctx)
}

// Send delivers a whole request on the stream: headers, the body in
// chunks, then trailers; end of stream is on the last of them.
func (s *Stream) Send(r *Request) {
	if r.Metadata != nil {
		s.vm.mu.Lock()
		s.metadata = r.Metadata
		s.vm.mu.Unlock()
	}
	noBody := len(r.Body) == 0
	s.SendHeaders(r.HeaderPairs(), noBody && len(r.Trailers) == 0)
	if !noBody {
		size := r.ChunkSize
		if size <= 0 {
			size = len(r.Body)
		}
		for off := 0; off < len(r.Body); off += size {
			end := min(off+size, len(r.Body))
			s.SendData(r.Body[off:end], end == len(r.Body) && len(r.Trailers) == 0)
		}
	}
	if len(r.Trailers) > 0 {
		s.SendTrailers(r.Trailers)
	}
}

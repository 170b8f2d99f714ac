package main

import (
	"bytes"
	"strconv"
	"time"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/firmly/session-transfer-filter/internal/auth"
	"github.com/firmly/session-transfer-filter/internal/headermap"
	"github.com/firmly/session-transfer-filter/internal/metrics"
	"github.com/firmly/session-transfer-filter/internal/request"
	"github.com/firmly/session-transfer-filter/internal/transfer"
	"github.com/firmly/session-transfer-filter/plugin/bridge"
)

// httpContext is one HTTP stream. Requests that are not transfers pass
// untouched: no buffering, no header changes, no callouts.
//
// Failure policy: fail closed. A recovered panic answers 500 ErrorInternal
// rather than letting an unauthenticated request through or losing the VM.
type httpContext struct {
	types.DefaultHttpContext
	engine  *transfer.Engine
	stats   *vmMetrics
	root    *pluginContext // takes the context back once the stream is done
	id      uint32
	t       *transfer.Transfer // nil: not a transfer
	replied bool
	gone    bool // the stream is done; never dispatch the backend write

	// What an operator sees of a transfer (SPEC §2.9).
	requestID      string    // x-request-id when well formed (SPEC §2.5), else "-"
	start          time.Time // request headers arrived
	dispatched     time.Time // the outstanding callout was dispatched
	export         bool      // the outstanding callout is the merchant export
	merchantStatus string    // the export's status as text; "" while none answered

	// A request paused on its headers while the remote JWKS is fetched
	// again for its unknown kid (SPEC §2.2b).
	jwks         *jwksFetcher // nil without auth.remote_jwks
	waiting      bool
	headers      headermap.Map // to judge it again: a copy, not the scratch buffer
	headersEOS   bool
	bodySize     int  // body buffered meanwhile (pause_on_headers only)
	bodyEnded    bool // ... and its end
	trailersSeen bool
}

// now is the clock; reading it arms no timer.
var now = time.Now

// headersHook is nil in every normal build; the e2e_panic build tag sets
// it to inject a panic, so tests can prove recovery inside the wasm VM.
var headersHook func(headers headermap.Headers)

// OnHttpRequestHeaders implements types.HttpContext.
func (c *httpContext) OnHttpRequestHeaders(_ int, endOfStream bool) (action types.Action) {
	defer c.recoverTo(&action)
	if c.engine == nil {
		return types.ActionContinue
	}
	// Fast path: a request that is not a transfer costs one hostcall and
	// no clock read (Start would pass it through on the same :path).
	// The path is looked at in the bridge's scratch buffer, not copied:
	// a pass-through allocates nothing here.
	if path, ok := bridge.PeekHttpRequestHeader(":path"); !ok {
		return types.ActionContinue
	} else if _, ok := request.MatchRoute(unsafe.String(unsafe.SliceData(path), len(path))); !ok {
		return types.ActionContinue
	}
	c.start, c.requestID = now(), "-"
	// The whole map, serialised as the host hands it over: the single-value
	// hostcall returns only the first of repeated headers, and the engine
	// reads the few names it decides on in place, decoding nothing else.
	raw, err := bridge.GetHttpRequestHeaderMap()
	if err != nil {
		logf(levelError, "session-transfer: reading request headers: %v", err)
		return c.reply(transfer.Internal())
	}
	// h is the VM's scratch buffer, valid only until the next bridge read
	// (the body's): keep values (Get copies them), never h itself.
	h := headermap.Map(raw)
	if id, n := h.Get("x-request-id"); n > 0 {
		if id, ok := request.RequestID(id); ok {
			c.requestID = id
		}
	}
	if headersHook != nil {
		headersHook(h)
	}
	return c.judge(h, endOfStream, c.start, false)
}

// judge runs the header checks (Engine.Start) and carries out their step.
// A token whose kid the loaded remote set lacks may wait for a refetch
// (SPEC §2.2b): the request pauses on its headers and keysReady judges it
// again when the fetch ends (again is then true, and it cannot wait twice).
func (c *httpContext) judge(h headermap.Map, endOfStream bool, at time.Time, again bool) types.Action {
	t, step := c.engine.Start(h, at)
	switch step.TokenCache {
	case auth.CacheHit:
		c.stats.inc(metrics.TokenCacheHits)
	case auth.CacheMiss:
		c.stats.inc(metrics.TokenCacheMisses)
	}
	if cl := step.Claims; cl != nil {
		setState(metrics.StateDeviceID, cl.DeviceID)
		if cl.AppID != "" {
			setState(metrics.StateAppID, cl.AppID)
		}
		if cl.Kid != "" {
			setState(metrics.StateKid, cl.Kid)
		}
	}
	switch step.Kind {
	case transfer.PassThrough:
		return types.ActionContinue
	case transfer.Reply:
		if step.UnknownKid && !again && c.jwks != nil && c.jwks.waitForKeys(c, at) {
			c.waiting, c.headers, c.headersEOS = true, bytes.Clone(h), endOfStream
			return types.ActionPause
		}
		return c.reply(step)
	}
	c.t = t
	if endOfStream {
		return c.run(t.OnBody(nil))
	}
	if c.engine.Config().PauseOnHeaders {
		// Only for Envoy with allow_on_headers_stop_iteration: true; other
		// Envoys turn this into StopAll and never deliver the body.
		return types.ActionPause
	}
	// Headers continue to the router; every body callback pauses until the
	// local response resets the upstream request (SPEC §2.1a).
	return types.ActionContinue
}

// keysReady is called, with this stream the effective context, when the
// fetch the request waited for has ended: judged again against the set in
// force, it goes on as if it had just arrived; a failed fetch is 503.
func (c *httpContext) keysReady(fetched bool) {
	var action types.Action
	defer c.recoverTo(&action)
	if !c.waiting || c.gone || c.replied {
		return
	}
	h, eos := c.headers, c.headersEOS
	c.waiting, c.headers = false, nil
	if !fetched {
		c.reply(transfer.KeysUnavailable())
		return
	}
	action = c.judge(h, eos, now(), true)
	if c.replied || c.t == nil || eos {
		return
	}
	if c.engine.Config().PauseOnHeaders {
		// The headers stay stopped; the body kept arriving meanwhile
		// (allow_on_headers_stop_iteration), so if it has ended, take it now.
		switch {
		case c.trailersSeen:
			action = c.OnHttpRequestTrailers(0)
		case c.bodyEnded:
			action = c.OnHttpRequestBody(c.bodySize, true)
		}
		return
	}
	// The header Pause was a StopAll: Envoy held the body. Continuing the
	// headers lets them reach the router and delivers the held body to the
	// body callbacks, which pause until the end as usual.
	if action == types.ActionContinue {
		if err := proxywasm.ResumeHttpRequest(); err != nil {
			logf(levelError, "session-transfer: resuming the request: %v", err)
			c.reply(transfer.Internal())
		}
	}
}

// OnHttpRequestBody implements types.HttpContext. Envoy reports the total
// buffered size while the filter keeps pausing.
func (c *httpContext) OnHttpRequestBody(size int, endOfStream bool) (action types.Action) {
	defer c.recoverTo(&action)
	if c.waiting {
		// Only with allow_on_headers_stop_iteration: the body arrives while
		// the request waits for keys; keysReady takes it once judged.
		c.bodySize, c.bodyEnded = size, endOfStream
		return types.ActionPause
	}
	if c.t == nil {
		return types.ActionContinue
	}
	if c.replied {
		return types.ActionPause
	}
	if size > c.t.MaxBodyBytes() {
		return c.reply(c.t.BodyTooLarge())
	}
	if !endOfStream {
		return types.ActionPause
	}
	return c.bodyComplete(size)
}

// OnHttpRequestTrailers implements types.HttpContext. With trailers the last
// body chunk does not say end of stream: the trailers end the body.
func (c *httpContext) OnHttpRequestTrailers(int) (action types.Action) {
	defer c.recoverTo(&action)
	if c.waiting {
		c.trailersSeen = true
		return types.ActionPause
	}
	if c.t == nil {
		return types.ActionContinue
	}
	if c.replied {
		return types.ActionPause
	}
	return c.bodyComplete(c.t.MaxBodyBytes() + 1)
}

func (c *httpContext) bodyComplete(max int) types.Action {
	// In the VM's scratch buffer: OnBody copies what it keeps.
	body, err := bridge.PeekHttpRequestBody(0, max)
	if err != nil && err != types.ErrorStatusNotFound {
		logf(levelError, "session-transfer: reading request body: %v", err)
		return c.reply(transfer.Internal())
	}
	return c.run(c.t.OnBody(body))
}

// OnHttpStreamDone implements types.HttpContext. A request waiting for
// keys is forgotten: it costs the fetch nothing more. A stream that was
// never a transfer (so never dispatched a callout) gives its context back
// for reuse, once nothing refers to it.
func (c *httpContext) OnHttpStreamDone() {
	c.gone = true
	if c.waiting && c.jwks != nil {
		c.jwks.forget(c)
	}
	if c.t == nil && c.root != nil {
		c.root.recycle(c)
	}
}

// run carries out a step of the transfer.
func (c *httpContext) run(step transfer.Step) types.Action {
	switch step.Kind {
	case transfer.Reply:
		return c.reply(step)
	case transfer.Dispatch:
		if c.gone {
			return types.ActionPause
		}
		co := step.Callout
		if _, err := proxywasm.DispatchHttpCall(co.Cluster, co.Headers, co.Body, nil, co.TimeoutMs, c.onCalloutAnswer); err != nil {
			logf(levelError, "session-transfer: dispatch to cluster %q: %v", co.Cluster, err)
			return c.run(c.t.DispatchFailed(err))
		}
		c.dispatched, c.export = now(), co.Export
	}
	return types.ActionPause
}

// onCalloutAnswer runs on the root context; the SDK has already made this
// stream the effective context, and skips the call if the stream is gone.
func (c *httpContext) onCalloutAnswer(numHeaders, bodySize, _ int) {
	var action types.Action
	defer c.recoverTo(&action)
	if c.gone || c.replied || c.t == nil {
		return
	}
	// A callout dispatched while a request was judged again after a
	// refetch was dispatched from the root context, and its answer comes
	// with the root as the effective context: make it this stream.
	if err := proxywasm.SetEffectiveContext(c.id); err != nil {
		c.gone = true
		return
	}
	status := calloutStatus(numHeaders)
	// Dispatch to answer, for every answer: a timeout arrives as a 504
	// and a reset as zero headers.
	elapsed := uint64(max(now().Sub(c.dispatched).Milliseconds(), 0))
	if c.export {
		c.merchantStatus = strconv.Itoa(status)
		c.stats.recordMerchant(metrics.MerchantExportMs, c.t.Domain(), elapsed)
	} else {
		c.stats.recordMerchant(metrics.BackendWriteMs, c.t.Domain(), elapsed)
	}
	var body []byte
	if limit := c.t.CalloutBodyLimit(); limit > 0 && bodySize > 0 && bodySize <= limit {
		var err error
		// In the VM's scratch buffer: OnCalloutAnswer copies what it keeps.
		if body, err = bridge.PeekHttpCallResponseBody(0, bodySize); err != nil {
			logf(levelError, "session-transfer: reading callout answer: %v", err)
		}
	}
	c.run(c.t.OnCalloutAnswer(status, body, bodySize, now()))
}

// calloutStatus is the :status of the callout answer being delivered, or 0
// when it came with zero headers (Envoy's way of saying the call was reset).
func calloutStatus(numHeaders int) int {
	if numHeaders == 0 {
		return 0
	}
	v, ok := bridge.PeekHttpCallResponseHeader(":status")
	if !ok {
		return 0
	}
	status, _ := strconv.Atoi(unsafe.String(unsafe.SliceData(v), len(v)))
	return status
}

// reply sends a local response, with response-code details naming the
// outcome, and reports it: filter state for the access log, the request
// counter and duration histogram, and one log line. After it every
// callback pauses.
func (c *httpContext) reply(step transfer.Step) types.Action {
	c.replied = true
	r := step.Reply
	outcome := r.Outcome()
	if err := bridge.SendHttpResponse(uint32(r.Status), c.stats.details(outcome), r.HeaderMap(), r.Body, -1); err != nil {
		logf(levelError, "session-transfer: sending the response: %v", err)
	}
	merchant := metrics.NoMerchant
	switch {
	case step.Merchant != "":
		merchant = step.Merchant
	case c.t != nil:
		merchant = c.t.Domain()
	}
	setState(metrics.StateOutcome, outcome)
	setState(metrics.StateMerchant, merchant)
	if c.merchantStatus != "" {
		setState(metrics.StateMerchantStatus, c.merchantStatus)
	}
	c.stats.incRequests(outcome, merchant)
	var ms int64
	if !c.start.IsZero() {
		ms = max(now().Sub(c.start).Milliseconds(), 0)
		c.stats.recordMerchant(metrics.DurationMs, merchant, uint64(ms))
	}
	level := levelDebug
	switch metrics.LevelOf(r.Status, c.merchantStatus != "") {
	case metrics.Info:
		level = levelInfo
	case metrics.Warn:
		level = levelWarn
	}
	requestID := c.requestID
	if requestID == "" {
		requestID = "-"
	}
	// Written without fmt: under wazero formatting this line through fmt
	// was 10-25 µs, most of a refusal's cost.
	line := append(lineBuf[:0], "session-transfer: request_id="...)
	line = append(line, requestID...)
	line = append(line, " merchant="...)
	line = append(line, merchant...)
	line = append(line, " status="...)
	line = strconv.AppendInt(line, int64(r.Status), 10)
	line = append(line, " outcome="...)
	line = append(line, outcome...)
	line = append(line, " duration_ms="...)
	line = strconv.AppendInt(line, ms, 10)
	if c.merchantStatus != "" {
		line = append(line, " merchant_status="...)
		line = append(line, c.merchantStatus...)
	}
	if r.Error != nil {
		line = append(line, ": "...)
		line = append(line, r.Error.Description...) // escaped by logMsg
	}
	lineBuf = line
	logMsg(level, string(line))
	return types.ActionPause
}

// lineBuf is the answer's log line, reused: the VM runs one callback at a
// time.
var lineBuf = make([]byte, 0, 256)

// setState sets filter state for the access log (Envoy keeps it as
// wasm.<key>, read with %FILTER_STATE(wasm.<key>:PLAIN)%).
func setState(key, value string) {
	if err := bridge.SetFilterState(key, value); err != nil {
		logf(levelWarn, "session-transfer: setting %s: %v", key, err)
	}
}

// recoverTo turns a panic into 500 ErrorInternal: a panic that escaped would
// abort the VM (and on Envoy 1.33–1.38 lose its message on the way).
func (c *httpContext) recoverTo(action *types.Action) {
	if r := recover(); r != nil {
		logf(levelCritical, "session-transfer: recovered from panic: %v", r)
		if !c.replied {
			c.reply(transfer.Internal())
		}
		*action = types.ActionPause
	}
}

package main

import (
	"strconv"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/firmly/session-transfer-filter/internal/transfer"
)

// httpContext is one HTTP stream. Requests that are not transfers pass
// untouched: no buffering, no header changes, no callouts.
//
// Failure policy: fail closed. A recovered panic answers 500 ErrorInternal
// rather than letting an unauthenticated request through or losing the VM.
type httpContext struct {
	types.DefaultHttpContext
	engine  *transfer.Engine
	id      uint32
	t       *transfer.Transfer // nil: not a transfer
	replied bool
	gone    bool // the stream is done; never dispatch the backend write
}

// now is the clock; reading it arms no timer.
var now = time.Now

// headersHook is nil in every normal build; the e2e_panic build tag sets
// it to inject a panic, so tests can prove recovery inside the wasm VM.
var headersHook func(headers [][2]string)

// OnHttpRequestHeaders implements types.HttpContext.
func (c *httpContext) OnHttpRequestHeaders(_ int, endOfStream bool) (action types.Action) {
	defer c.recoverTo(&action)
	if c.engine == nil {
		return types.ActionContinue
	}
	// Every header pair: the single-value hostcall returns only the first
	// of repeated headers.
	h, err := proxywasm.GetHttpRequestHeaders()
	if err != nil {
		proxywasm.LogErrorf("session-transfer: reading request headers: %v", err)
		return c.reply(transfer.Internal())
	}
	if headersHook != nil {
		headersHook(h)
	}
	t, step := c.engine.Start(h, now())
	switch step.Kind {
	case transfer.PassThrough:
		return types.ActionContinue
	case transfer.Reply:
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

// OnHttpRequestBody implements types.HttpContext. Envoy reports the total
// buffered size while the filter keeps pausing.
func (c *httpContext) OnHttpRequestBody(size int, endOfStream bool) (action types.Action) {
	defer c.recoverTo(&action)
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
	if c.t == nil {
		return types.ActionContinue
	}
	if c.replied {
		return types.ActionPause
	}
	return c.bodyComplete(c.t.MaxBodyBytes() + 1)
}

func (c *httpContext) bodyComplete(max int) types.Action {
	body, err := proxywasm.GetHttpRequestBody(0, max)
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogErrorf("session-transfer: reading request body: %v", err)
		return c.reply(transfer.Internal())
	}
	return c.run(c.t.OnBody(body))
}

// OnHttpStreamDone implements types.HttpContext.
func (c *httpContext) OnHttpStreamDone() { c.gone = true }

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
			proxywasm.LogErrorf("session-transfer: dispatch to cluster %q: %v", co.Cluster, err)
			return c.run(c.t.DispatchFailed(err))
		}
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
	status := 0 // zero headers: the callout was reset
	if numHeaders > 0 {
		hs, err := proxywasm.GetHttpCallResponseHeaders()
		if err == nil {
			for _, kv := range hs {
				if kv[0] == ":status" {
					status, _ = strconv.Atoi(kv[1])
				}
			}
		}
	}
	var body []byte
	if limit := c.t.CalloutBodyLimit(); limit > 0 && bodySize > 0 && bodySize <= limit {
		var err error
		if body, err = proxywasm.GetHttpCallResponseBody(0, bodySize); err != nil {
			proxywasm.LogErrorf("session-transfer: reading callout answer: %v", err)
		}
	}
	c.run(c.t.OnCalloutAnswer(status, body, bodySize, now()))
}

// reply sends a local response; after it every callback pauses.
func (c *httpContext) reply(step transfer.Step) types.Action {
	c.replied = true
	r := step.Reply
	if err := proxywasm.SendHttpResponse(uint32(r.Status), r.Headers, r.Body, -1); err != nil {
		proxywasm.LogErrorf("session-transfer: sending the response: %v", err)
	}
	domain := "-"
	if c.t != nil {
		domain = c.t.Domain()
	}
	if r.Error != nil {
		proxywasm.LogInfof("session-transfer: domain=%s status=%d error=%s: %s", domain, r.Status, r.Error.Kind.Name, r.Error.Description)
	} else {
		proxywasm.LogInfof("session-transfer: domain=%s status=%d transferred", domain, r.Status)
	}
	return types.ActionPause
}

// recoverTo turns a panic into 500 ErrorInternal: a panic that escaped would
// abort the VM (and on Envoy 1.33–1.38 lose its message on the way).
func (c *httpContext) recoverTo(action *types.Action) {
	if r := recover(); r != nil {
		proxywasm.LogCriticalf("session-transfer: recovered from panic: %v", r)
		if !c.replied {
			c.reply(transfer.Internal())
		}
		*action = types.ActionPause
	}
}

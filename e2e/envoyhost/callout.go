package envoyhost

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"
)

// CalloutRecord is one proxy_http_call that was dispatched.
type CalloutRecord struct {
	Cluster   string
	Headers   Pairs
	Body      []byte
	TimeoutMs uint32
}

type pendingCallout struct{ cancel func() }

// calloutResponse is what proxy_on_http_call_response may read.
type calloutResponse struct {
	headers, trailers Pairs
	body              []byte
}

// dispatchHTTPCall validates like Envoy's httpCall: known cluster, the
// :method, :path and :authority pseudo-headers, a timeout that fits a signed
// int. The call belongs to the root context.
func (vm *VM) dispatchHTTPCall(cluster string, hdrs, body, trls []byte, timeoutMs uint32) (uint32, uint32) {
	h := vm.host
	c, ok := h.cfg.Clusters[cluster]
	if !ok {
		return 0, statusBadArgument
	}
	headers, err := decodePairs(hdrs)
	if err != nil {
		return 0, statusBadArgument
	}
	headers = lowerKeys(headers)
	for _, k := range []string{":method", ":path", ":authority"} {
		if v, _ := headers.Get(k); v == "" {
			return 0, statusBadArgument
		}
	}
	if timeoutMs > math.MaxInt32 {
		return 0, statusBadArgument
	}
	if c.FailInline {
		return 0, statusInternalFailure
	}
	// A full circuit breaker refuses the request inside the async client's
	// send: the router answers 503 with x-envoy-overloaded at once, but that
	// answer arrives while the VM is still in this hostcall, so Envoy defers
	// it; send returns no request, httpCall drops the token and answers
	// InternalFailure, and the deferred answer then finds no token and is
	// dropped (source/extensions/common/wasm/context.cc httpCall and
	// onHttpCallSuccess, source/common/http/async_client_impl.cc send). The
	// plugin sees a dispatch that failed inline, and no callback.
	slot, ok := h.acquire(cluster, c)
	if !ok {
		h.mu.Lock()
		h.overflows = append(h.overflows, cluster)
		h.mu.Unlock()
		return 0, statusInternalFailure
	}
	vm.nextCallout++
	id := vm.nextCallout
	h.mu.Lock()
	h.callouts = append(h.callouts, CalloutRecord{Cluster: cluster, Headers: headers, Body: body, TimeoutMs: timeoutMs})
	h.mu.Unlock()
	h.inflight.Add(1)
	// A timeout of 0 means none at all, as in Envoy.
	timeout := time.Duration(timeoutMs) * time.Millisecond
	u := startUpstream(c, headers, body, true, timeout, slot, func(r *rawResponse, err error) {
		vm.deliverCallout(id, r, err)
	})
	vm.callouts[id] = &pendingCallout{cancel: func() {
		if u.abort() {
			h.inflight.Done()
		}
	}}
	return id, statusOK
}

// deliverCallout calls proxy_on_http_call_response on the root context.
// Router-made answers (timeout 504, connect failure 503) arrive as normal
// responses; a reset after the response started arrives as zero headers,
// body and trailers, with proxy_get_status saying 11 "reset".
func (vm *VM) deliverCallout(id uint32, r *rawResponse, err error) {
	defer vm.host.inflight.Done()
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if _, ok := vm.callouts[id]; !ok || vm.closed || vm.failed != nil {
		return
	}
	delete(vm.callouts, id)
	resp := &calloutResponse{}
	switch {
	case err == nil:
		resp.headers, resp.body, resp.trailers = r.headers, r.body, r.trailers
	case errors.Is(err, errAfterHeaders):
		vm.lastStatus, vm.lastStatusMsg = statusBrokenConnection, "reset"
	default:
		status, body, _ := routerReply(err)
		resp.headers = Pairs{{":status", strconv.Itoa(status)}, {"content-length", strconv.Itoa(len(body))}, {"content-type", "text/plain"}}
		resp.body = []byte(body)
	}
	vm.callResp = resp
	ctx := context.Background()
	vm.callLocked(ctx, vm.rootID, "proxy_on_http_call_response",
		uint64(vm.rootID), uint64(id), uint64(len(resp.headers)), uint64(len(resp.body)), uint64(len(resp.trailers)))
	vm.callResp = nil
	vm.lastStatus, vm.lastStatusMsg = 0, ""
	vm.runDeferredLocked(ctx)
	// A trap in the callback fails the VM and nothing else: the stream that
	// waits for this answer gets none (cpp-host does not fail it) and ends
	// at Envoy's stream timeout or when the client goes away. Streams meet
	// the failed VM at their next event.
}

// WaitCallouts blocks until every dispatched callout has been delivered or
// dropped.
func (h *Host) WaitCallouts(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		h.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package envoyhost

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
)

// runHandler answers the request from the cluster's in-process handler, with
// no socket. It waits for the whole body as a socket upstream would; done is
// called from this goroutine, so the answer reaches the module only after
// the VM call that made the request has returned and released the VM, as
// Envoy delivers it on a later dispatcher turn.
func (u *upstreamRequest) runHandler(h http.Handler, headers Pairs, done func(*rawResponse, error)) {
	u.mu.Lock()
	for !u.eos && !u.aborted && !u.timedOut {
		u.cond.Wait()
	}
	stop := u.aborted || u.timedOut
	body := bytes.Join(u.chunks, nil)
	u.chunks = nil
	u.mu.Unlock()
	if stop {
		u.finish(done, nil, nil) // nothing after an abort; a timeout is answered as one
		return
	}
	req := httptest.NewRequest(firstValue(headers, ":method"), firstValue(headers, ":path"), bytes.NewReader(body))
	req.Host = firstValue(headers, ":authority")
	for _, kv := range headers {
		if !strings.HasPrefix(kv[0], ":") {
			req.Header.Add(kv[0], kv[1])
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	r := &rawResponse{headers: Pairs{{":status", strconv.Itoa(res.StatusCode)}}, body: rec.Body.Bytes()}
	for k, vs := range res.Header {
		for _, v := range vs {
			r.headers = append(r.headers, [2]string{strings.ToLower(k), v})
		}
	}
	u.finish(done, r, nil)
}

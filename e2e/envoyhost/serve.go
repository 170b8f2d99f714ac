package envoyhost

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ServeHTTP makes the host an HTTP/1.1 proxy: each request becomes a
// stream (headers, the body in chunks as it arrives, trailers), and the
// stream's response is written back. A client that goes away cancels the
// stream, as Envoy resets it.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The request-target as the client wrote it: net/http's URL would
	// re-escape it (a \ becomes %5C), and spelling matters to Envoy's path
	// normalisation. (net/http itself refuses a malformed %-escape with 400
	// before this handler runs; Envoy lets it through.)
	path := r.RequestURI
	if !strings.HasPrefix(path, "/") {
		path = r.URL.RequestURI()
	}
	headers := Pairs{{":method", r.Method}, {":path", path}, {":authority", r.Host}, {":scheme", "http"}}
	if r.TLS != nil {
		headers[3][1] = "https"
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			headers = append(headers, [2]string{strings.ToLower(k), v})
		}
	}
	// Envoy's connection manager gives every request without one an
	// x-request-id (generate_request_id defaults to true) before any filter.
	if r.Header.Get("x-request-id") == "" {
		headers = append(headers, [2]string{"x-request-id", newRequestID()})
	}
	s := h.NewStream()
	noBody := r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 && len(r.TransferEncoding) == 0
	s.SendHeaders(headers, noBody)
	if !noBody {
		go h.pumpBody(s, r)
	}
	resp, err := s.Wait(r.Context())
	if err != nil {
		s.Cancel()
		return
	}
	if resp.Reset {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	for _, kv := range resp.Headers {
		if strings.HasPrefix(kv[0], ":") || kv[0] == "content-length" || kv[0] == "transfer-encoding" || kv[0] == "connection" {
			continue
		}
		// As Envoy writes them over HTTP/1.1: lower case (Header().Add
		// would canonicalise to Go's capitalisation).
		w.Header()[kv[0]] = append(w.Header()[kv[0]], kv[1])
	}
	w.WriteHeader(resp.Status)
	w.Write(resp.Body)
}

// pumpBody feeds the request body to the stream in chunks as it arrives.
func (h *Host) pumpBody(s *Stream, r *http.Request) {
	buf := make([]byte, 16<<10)
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			chunk := append([]byte(nil), buf[:n]...)
			s.SendData(chunk, false)
		}
		if err == io.EOF {
			var trailers Pairs
			for k, vs := range r.Trailer {
				for _, v := range vs {
					trailers = append(trailers, [2]string{strings.ToLower(k), v})
				}
			}
			if len(trailers) > 0 {
				s.SendTrailers(trailers)
			} else {
				s.SendData(nil, true)
			}
			return
		}
		if err != nil {
			s.Cancel()
			return
		}
		select {
		case <-s.Done():
			return
		default:
		}
	}
}

// newRequestID is a random (version 4) UUID, the form Envoy generates.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

//go:build wasip1 && !tinygo

package bridge

import (
	"errors"
	"github.com/firmly/session-transfer-filter/internal/fmtlite"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/firmly/session-transfer-filter/internal/headermap"
)

// SendHttpResponse is proxywasm.SendHttpResponse with response-code
// details: the SDK's always passes empty details, so %RESPONSE_CODE_DETAILS%
// could not tell one local reply from another (RATIONALE.md, "Local-reply
// details"). headers are serialised (headermap.Serialize), so a reply's
// constant headers are serialised once; a grpcStatus outside 0..16 (e.g.
// -1) means no grpc-status.
func SendHttpResponse(status uint32, details string, headers headermap.Map, body []byte, grpcStatus int32) error {
	h := headers
	if len(h) == 0 {
		h = headermap.Serialize(nil)
	}
	var dp, bp *byte
	if len(details) > 0 {
		dp = unsafe.StringData(details) // the host only reads it: no copy
	}
	if len(body) > 0 {
		bp = &body[0]
	}
	return statusError("proxy_send_local_response", proxySendLocalResponse(status, dp, uint32(len(details)), bp, uint32(len(body)), &h[0], uint32(len(h)), grpcStatus))
}

var errEmptyProperty = errors.New("property path and value must not be empty")

// statusError maps a proxy-wasm status to the SDK's errors.
func statusError(call string, st uint32) error {
	switch st {
	case 0:
		return nil
	case 1:
		return types.ErrorStatusNotFound
	case 2:
		return types.ErrorStatusBadArgument
	case 7:
		return types.ErrorStatusEmpty
	case 8:
		return types.ErrorStatusCasMismatch
	case 10:
		return types.ErrorInternalFailure
	case 12:
		return types.ErrorUnimplemented
	}
	return fmtlite.Errorf("%s: status %d", call, st)
}

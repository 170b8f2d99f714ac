package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/firmly/session-transfer-filter/internal/transfer"
)

// metadataReader serves auth.verified_payload: each claim is one
// proxy_get_property of metadata.filter_metadata.<namespace>.<path...>
// (the SDK joins the segments with NUL, as the ABI wants, so a namespace
// with dots stays one segment). It runs inside the request-headers
// callback, so Envoy answers from this stream's dynamic metadata.
func metadataReader(namespace string) transfer.MetadataReader {
	return func(path []string) ([]byte, bool, error) {
		full := make([]string, 0, 3+len(path))
		full = append(full, "metadata", "filter_metadata", namespace)
		v, err := proxywasm.GetProperty(append(full, path...))
		switch err {
		case nil:
			return v, true, nil
		case types.ErrorStatusNotFound:
			return nil, false, nil
		}
		return nil, false, err
	}
}

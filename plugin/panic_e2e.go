//go:build e2e_panic

package main

import "github.com/firmly/session-transfer-filter/internal/headermap"

// Only in the module the e2e tests build with -tags e2e_panic: a request
// carrying x-e2e-panic panics inside OnHttpRequestHeaders.
func init() {
	headersHook = func(h headermap.Headers) {
		if _, n := h.Get("x-e2e-panic"); n > 0 {
			panic("e2e: injected panic")
		}
	}
}

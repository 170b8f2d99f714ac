//go:build e2e_panic

package main

// Only in the module the e2e tests build with -tags e2e_panic: a request
// carrying x-e2e-panic panics inside OnHttpRequestHeaders.
func init() {
	headersHook = func(h [][2]string) {
		for _, kv := range h {
			if kv[0] == "x-e2e-panic" {
				panic("e2e: injected panic")
			}
		}
	}
}

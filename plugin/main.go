// Command plugin is the Session Transfer filter: a proxy-wasm HTTP filter for
// Envoy, built with the standard Go toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm ./plugin
//
// The module is a WASI reactor: Envoy calls _initialize, which runs init()
// but never main(), so the VM context is registered here.
package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	_ "github.com/firmly/session-transfer-filter/plugin/bridge"
)

func main() {}

func init() {
	// Only pure, in-memory work here: Envoy traps any hostcall but logging
	// while it runs _initialize.
	proxywasm.SetVMContext(&vmContext{})
}

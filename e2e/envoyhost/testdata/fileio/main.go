// Command fileio is a plugin that links file-system calls. Envoy 1.33 lacks
// the WASI imports they need and refuses to load it; Envoy 1.39 loads it.
package main

import (
	"os"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	_ "github.com/firmly/session-transfer-filter/plugin/bridge"
)

func main() {}

func init() { proxywasm.SetVMContext(&vm{}) }

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type plugin struct{ types.DefaultPluginContext }

func (*plugin) OnPluginStart(int) types.OnPluginStartStatus {
	if _, err := os.Stat("/etc/plugin.json"); err != nil {
		proxywasm.LogInfof("fileio: %v", err)
	}
	return types.OnPluginStartStatusOK
}

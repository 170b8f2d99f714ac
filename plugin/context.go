package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// vmContext is the VM-wide context; one per Envoy worker VM.
type vmContext struct{ types.DefaultVMContext }

// NewPluginContext implements types.VMContext.
func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{id: contextID}
}

// pluginContext is the root context of one plugin configuration.
type pluginContext struct {
	types.DefaultPluginContext
	id uint32
}

// NewHttpContext implements types.PluginContext.
func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{plugin: p, id: contextID}
}

// httpContext is one HTTP stream.
type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
	id     uint32
}

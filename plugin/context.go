package main

import (
	"os"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/firmly/session-transfer-filter/internal/config"
	"github.com/firmly/session-transfer-filter/internal/metrics"
	"github.com/firmly/session-transfer-filter/internal/transfer"
)

// vmContext is the VM-wide context; one per Envoy worker VM.
type vmContext struct {
	types.DefaultVMContext
	stats *vmMetrics // metric ids, shared by every context of the VM
}

// NewPluginContext implements types.VMContext.
func (v *vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	if v.stats == nil {
		v.stats = newVMMetrics()
	}
	return &pluginContext{id: contextID, stats: v.stats}
}

// pluginContext is the root context of one plugin configuration. Envoy
// starts it several times (canary and every worker VM), so starting has no
// side effects beyond reading the configuration.
type pluginContext struct {
	types.DefaultPluginContext
	id     uint32
	engine *transfer.Engine
	stats  *vmMetrics
	jwks   *jwksFetcher // nil without auth.remote_jwks
	// free holds stream contexts to reuse: a pass-through or a refusal on
	// headers then allocates no context (allocation and the collections it
	// brings were most of a 401's module time under V8).
	free []*httpContext
}

// maxFreeContexts bounds the contexts kept for reuse.
const maxFreeContexts = 256

// OnPluginStart implements types.PluginContext. An invalid configuration
// refuses the start with one critical log line naming the key; Envoy then
// rejects the configuration.
func (p *pluginContext) OnPluginStart(int) (status types.OnPluginStartStatus) {
	defer func() {
		if r := recover(); r != nil {
			logf(levelCritical, "session-transfer: refusing to start: internal error: %v", r)
			status = types.OnPluginStartStatusFailed
		}
	}()
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		logf(levelCritical, "session-transfer: refusing to start: cannot read the configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	cfg, err := config.Parse(data, os.LookupEnv)
	if err != nil {
		logf(levelCritical, "session-transfer: refusing to start: %v", err)
		return types.OnPluginStartStatusFailed
	}
	engine, err := transfer.New(cfg)
	if err != nil {
		logf(levelCritical, "session-transfer: refusing to start: %v", err)
		return types.OnPluginStartStatusFailed
	}
	if vp := cfg.Auth.VerifiedPayload; vp != nil {
		engine.SetMetadataReader(metadataReader(vp.Namespace))
	}
	if err := p.startJWKS(cfg.Auth.RemoteJWKS, engine.Verifier()); err != nil {
		logf(levelCritical, "session-transfer: refusing to start: %v", err)
		return types.OnPluginStartStatusFailed
	}
	p.engine = engine
	// Every series at 0 from the start (SPEC §2.9). The order of the
	// merchants does not matter: each name is defined once.
	merchants := make([]string, 0, len(cfg.Merchants))
	for m := range cfg.Merchants {
		merchants = append(merchants, m)
	}
	p.stats.defineAll(metrics.StartSeries(merchants))
	logf(levelInfo, "session-transfer: version %s started with %d merchant(s), pause_on_headers=%v", version, len(cfg.Merchants), cfg.PauseOnHeaders)
	return types.OnPluginStartStatusOK
}

// NewHttpContext implements types.PluginContext.
func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	if n := len(p.free); n > 0 {
		c := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		*c = httpContext{engine: p.engine, id: contextID, stats: p.stats, jwks: p.jwks, root: p}
		return c
	}
	return &httpContext{engine: p.engine, id: contextID, stats: p.stats, jwks: p.jwks, root: p}
}

// recycle keeps a finished stream's context for the next stream. Only a
// context that never dispatched a callout comes here: nothing else refers
// to it, and the host calls nothing on its stream after proxy_on_log.
func (p *pluginContext) recycle(c *httpContext) {
	if len(p.free) < maxFreeContexts {
		p.free = append(p.free, c)
	}
}

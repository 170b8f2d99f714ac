package main

import (
	"testing"

	"github.com/firmly/session-transfer-filter/internal/config"
	"github.com/firmly/session-transfer-filter/internal/transfer"
)

// A stream that never became a transfer gives its context back at
// OnHttpStreamDone, and the next stream gets it reset; a transfer's
// context (its callouts' callbacks may still refer to it) is never reused.
func TestStreamContextsAreReusedOnlyWhenNoCalloutCanReferToThem(t *testing.T) {
	cfg, err := config.Parse([]byte(pluginConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := transfer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &pluginContext{engine: e, stats: newVMMetrics()}
	first := p.NewHttpContext(2).(*httpContext)
	first.requestID, first.replied = "r-1", true
	first.OnHttpStreamDone()
	second := p.NewHttpContext(3).(*httpContext)
	if second != first {
		t.Fatal("a finished pass-through's context was not reused")
	}
	if second.id != 3 || second.requestID != "" || second.replied || second.gone || second.engine != e {
		t.Errorf("reused context not reset: %+v", second)
	}
	second.t = &transfer.Transfer{}
	second.OnHttpStreamDone()
	if third := p.NewHttpContext(4).(*httpContext); third == second {
		t.Error("a transfer's context was reused")
	}
}

package main

import (
	"github.com/firmly/session-transfer-filter/internal/fmtlite"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/firmly/session-transfer-filter/internal/auth"
	"github.com/firmly/session-transfer-filter/internal/config"
	"github.com/firmly/session-transfer-filter/internal/jwksfetch"
	"github.com/firmly/session-transfer-filter/internal/metrics"
)

// Remote JWKS (SPEC §2.2b). Each worker VM fetches the key set itself, from
// its root context, on the plugin's tick: a host timer, so no Go runtime
// timer is ever armed. The canary VM that only validates the configuration
// never ticks, so it never fetches.

const (
	// jwksTickMs is how often the schedule is asked; refresh and retry are
	// whole seconds, so a one-second tick keeps them to within a second.
	jwksTickMs = 1000
	// refetchTickMs is the tick that carries a refetch for an unknown kid
	// out at once. The fetch is dispatched from the root context's tick,
	// never from the waiting request's stream: the SDK drops a callout's
	// answer when the stream that dispatched it is gone, which would leave
	// the fetch in flight for ever.
	refetchTickMs = 1
)

// jwksFetcher keeps one VM's remote keys fresh. Failure policy: a failed
// fetch keeps the last good set in force (none before the first success, so
// transfers get 503 ErrorAuthUnavailable) and retries on the schedule.
type jwksFetcher struct {
	cfg      *config.RemoteJWKS
	verifier *auth.Verifier
	schedule *jwksfetch.Schedule
	stats    *vmMetrics
	awaiting bool // a callout was dispatched and its answer has not run yet
	loaded   bool // a fetch has succeeded on this VM

	// Refetch on an unknown kid (SPEC §2.2b).
	refetchDue bool           // decided; dispatched on the next (1 ms) tick
	waiters    []*httpContext // requests paused until the fetch in flight ends

	ticked  bool // the first tick ran: this is a worker VM, not the canary
	counted bool // this VM is counted in metrics.JWKSVMsWithoutRemoteKeys
}

// startJWKS is called by OnPluginStart: with auth.remote_jwks configured it
// sets the tick period that drives the fetches.
func (p *pluginContext) startJWKS(cfg *config.RemoteJWKS, v *auth.Verifier) error {
	if cfg == nil {
		return nil
	}
	p.jwks = &jwksFetcher{
		cfg: cfg, verifier: v, stats: p.stats,
		schedule: jwksfetch.New(time.Duration(cfg.RefreshSeconds)*time.Second, time.Duration(cfg.RetrySeconds)*time.Second),
	}
	p.jwks.schedule.SetMinRefetch(time.Duration(cfg.MinRefetchSeconds) * time.Second)
	if err := proxywasm.SetTickPeriodMilliSeconds(jwksTickMs); err != nil {
		return fmtlite.Errorf("auth.remote_jwks: cannot set the tick period: %w", err)
	}
	return nil
}

// OnTick implements types.PluginContext.
func (p *pluginContext) OnTick() {
	f := p.jwks
	defer func() {
		if r := recover(); r != nil {
			logf(levelCritical, "session-transfer: recovered from panic in the JWKS tick: %v", r)
			if f != nil {
				f.abandon()
			}
		}
	}()
	if f != nil {
		f.tick(now())
	}
}

// OnPluginDone implements types.PluginContext: a VM that stops without
// keys takes back its count.
func (p *pluginContext) OnPluginDone() bool {
	if f := p.jwks; f != nil && f.counted {
		f.counted = false
		f.stats.addGauge(metrics.JWKSVMsWithoutRemoteKeys, -1)
	}
	return true
}

// tick dispatches a fetch when the schedule says one is due, or the
// refetch a token with an unknown kid asked for.
func (f *jwksFetcher) tick(at time.Time) {
	if !f.ticked {
		// Only worker VMs tick, so the canary never counts.
		f.ticked = true
		if !f.loaded {
			f.counted = true
			f.stats.addGauge(metrics.JWKSVMsWithoutRemoteKeys, 1)
		}
	}
	if f.refetchDue {
		f.refetchDue = false
		if err := proxywasm.SetTickPeriodMilliSeconds(jwksTickMs); err != nil {
			logf(levelWarn, "session-transfer: remote JWKS: cannot set the tick period back: %v", err)
		}
		f.dispatch(at)
		return
	}
	if f.schedule.Due(at) {
		f.dispatch(at)
	}
}

// waitForKeys is asked for a request whose token names a kid the loaded
// remote set lacks. True: the request waits (keysReady is called when the
// fetch ends); false: it is refused at once, inside the min-refetch window.
func (f *jwksFetcher) waitForKeys(c *httpContext, at time.Time) bool {
	switch f.schedule.Refetch(at) {
	case jwksfetch.Refuse:
		return false
	case jwksfetch.Dispatch:
		f.refetchDue = true
		f.stats.inc(metrics.JWKSRefetchOnUnknownKid)
		logf(levelInfo, "session-transfer: a token names a key id that is not loaded: fetching the remote JWKS from cluster %q now", f.cfg.Cluster)
		if err := proxywasm.SetTickPeriodMilliSeconds(refetchTickMs); err != nil {
			// The next regular tick dispatches it instead.
			logf(levelWarn, "session-transfer: remote JWKS: cannot set the tick period: %v", err)
		}
	}
	f.waiters = append(f.waiters, c)
	return true
}

// forget drops a waiting request whose client went away.
func (f *jwksFetcher) forget(c *httpContext) {
	for i, w := range f.waiters {
		if w == c {
			f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
			return
		}
	}
}

// release judges every waiting request again, now that the fetch ended.
func (f *jwksFetcher) release(fetched bool) {
	ws := f.waiters
	f.waiters = nil
	for _, c := range ws {
		if c.gone {
			continue
		}
		if err := proxywasm.SetEffectiveContext(c.id); err != nil {
			continue // the stream is gone
		}
		c.keysReady(fetched)
	}
}

// dispatch sends the fetch the schedule has marked in flight.
func (f *jwksFetcher) dispatch(at time.Time) {
	headers := [][2]string{
		{":method", "GET"}, {":path", f.cfg.Path}, {":authority", f.cfg.Authority},
		{"accept", "application/json"},
	}
	if _, err := proxywasm.DispatchHttpCall(f.cfg.Cluster, headers, nil, nil, f.cfg.TimeoutMs, f.onAnswer); err != nil {
		// An inline failure gets no callback: it is a failed fetch now.
		f.failed(at, fmtlite.Sprintf("dispatch to cluster %q failed: %v", f.cfg.Cluster, err))
		return
	}
	f.awaiting = true
}

// onAnswer runs on the root context when the fetch is answered.
func (f *jwksFetcher) onAnswer(numHeaders, bodySize, _ int) {
	f.awaiting = false
	defer func() {
		if r := recover(); r != nil {
			logf(levelCritical, "session-transfer: recovered from panic in the JWKS answer: %v", r)
			f.abandon()
		}
	}()
	at := now()
	if numHeaders == 0 {
		f.failed(at, "the connection was reset")
		return
	}
	status := calloutStatus(numHeaders)
	switch {
	case status == 504:
		f.failed(at, "answered 504 (timed out)")
		return
	case status != 200:
		f.failed(at, fmtlite.Sprintf("answered %d, want 200", status))
		return
	case bodySize > auth.MaxRemoteJWKSBytes:
		f.failed(at, fmtlite.Sprintf("answer of %d bytes is larger than %d", bodySize, auth.MaxRemoteJWKSBytes))
		return
	}
	var body []byte
	if bodySize > 0 {
		var err error
		if body, err = proxywasm.GetHttpCallResponseBody(0, bodySize); err != nil {
			f.failed(at, fmtlite.Sprintf("reading the answer: %v", err))
			return
		}
	}
	keys, err := auth.ParseRemoteJWKS(body)
	if err != nil {
		f.failed(at, "unusable key set: "+err.Error())
		return
	}
	// One line and one count per odd key; the usable rest still loads.
	for _, sk := range keys.Skipped() {
		f.stats.inc(metrics.JWKSKeysSkipped)
		logf(levelWarn, "session-transfer: remote JWKS from cluster %q: skipping key %s: %s", f.cfg.Cluster, sk.Name, sk.Cause)
	}
	f.verifier.SetRemoteKeys(keys)
	f.loaded = true
	f.schedule.Done(true, at)
	f.count(true)
	if f.counted {
		f.counted = false
		f.stats.addGauge(metrics.JWKSVMsWithoutRemoteKeys, -1)
	}
	logf(levelInfo, "session-transfer: remote JWKS loaded from cluster %q: %d key(s); next refresh in %s",
		f.cfg.Cluster, keys.Len(), f.schedule.Next().Sub(at).Round(time.Second))
	f.release(true)
}

// failed records a failed fetch and logs its cause, never the answer's body.
func (f *jwksFetcher) failed(at time.Time, cause string) {
	f.schedule.Done(false, at)
	f.count(false)
	kept := "no remote key is loaded yet"
	if f.loaded {
		kept = "keeping the last good key set"
	}
	if len(cause) > 512 {
		cause = cause[:512] + "..."
	}
	logf(levelWarn, "session-transfer: remote JWKS fetch from cluster %q: %s; %s; retrying in %s (failure %d in a row)",
		f.cfg.Cluster, cause, kept, f.schedule.Next().Sub(at).Round(time.Second), f.schedule.Failures())
	f.release(false)
}

// abandon ends a fetch that a recovered panic interrupted, unless its
// callout is still to be answered, so the schedule never stays in flight.
func (f *jwksFetcher) abandon() {
	if f.schedule.InFlight() && !f.awaiting {
		f.failed(now(), "internal error")
	}
}

func (f *jwksFetcher) count(ok bool) {
	if ok {
		f.stats.inc(metrics.JWKSFetchSuccess)
	} else {
		f.stats.inc(metrics.JWKSFetchFailure)
	}
}

package envoyhost

import (
	"time"
)

// Module-time accounting: how long the module itself runs, as opposed to the
// host functions it calls. Every export call's wall time is split into
// segments at each boundary (host function entered or left, allocation
// callback entered or left); a segment counts as module time when the guest
// was running. An allocation callback nested inside a hostcall (copyOut →
// proxy_on_memory_allocate) is guest code, so it counts as module time.
//
// Accounting is off by default and costs one nil check per boundary then.

// ExportTime is the accounting of one export, summed over its calls.
type ExportTime struct {
	Calls  int
	Module time.Duration // time the guest ran
	Host   time.Duration // time in host functions
}

// ExportTrace is the hostcalls one export call made, in order; nested
// allocation callbacks appear as "proxy_on_memory_allocate".
type ExportTrace struct {
	Export    string
	Hostcalls []string
}

// ModuleTime is what the accounting collected since it was last taken.
type ModuleTime struct {
	Exports map[string]ExportTime
	// Trace is set only when tracing was asked for.
	Trace []ExportTrace
}

// Module is the module time summed over every export.
func (m ModuleTime) Module() time.Duration {
	var d time.Duration
	for _, e := range m.Exports {
		d += e.Module
	}
	return d
}

// moduleAcct is one VM's accounting; used only under vm.mu.
type moduleAcct struct {
	trace   bool
	exports map[string]ExportTime
	traces  []ExportTrace

	depth  int       // export calls in progress (the alloc callback nests)
	inHost []bool    // a stack: is the innermost frame a host function
	last   time.Time // start of the current segment
	module time.Duration
	host   time.Duration

	// With segments, the module time of each stretch of guest code between
	// two boundaries is summed by its place in the call (the k-th module
	// stretch of every call adds to segs[k]), labelled by the boundaries
	// around it: where in an export the guest's time goes.
	segments bool
	segs     []Segment
	seg      int    // module stretches so far in this call
	from     string // the boundary the current stretch began at
}

// Segment is the module time of one stretch of guest code in an export
// call, between the boundaries From and To, summed over the calls.
type Segment struct {
	From, To string
	Module   time.Duration
}

// MeasureModuleTime turns on accounting for every worker VM and clears what
// was collected; with trace, every export call also records its hostcalls.
func (h *Host) MeasureModuleTime(trace bool) {
	for _, vm := range h.workers {
		vm.mu.Lock()
		vm.acct = &moduleAcct{trace: trace, exports: map[string]ExportTime{}}
		vm.mu.Unlock()
	}
}

// TakeModuleTime returns what the worker VMs collected and clears it.
func (h *Host) TakeModuleTime() ModuleTime {
	out := ModuleTime{Exports: map[string]ExportTime{}}
	for _, vm := range h.workers {
		vm.mu.Lock()
		if a := vm.acct; a != nil {
			for n, e := range a.exports {
				o := out.Exports[n]
				o.Calls += e.Calls
				o.Module += e.Module
				o.Host += e.Host
				out.Exports[n] = o
			}
			out.Trace = append(out.Trace, a.traces...)
			a.exports, a.traces = map[string]ExportTime{}, nil
		}
		vm.mu.Unlock()
	}
	return out
}

// split closes the current segment at the boundary prefix+name, crediting
// it to the innermost frame.
func (a *moduleAcct) split(prefix, name string) {
	now := time.Now()
	d := now.Sub(a.last)
	a.last = now
	if len(a.inHost) > 0 && a.inHost[len(a.inHost)-1] {
		a.host += d
	} else {
		a.module += d
		if a.segments {
			if a.seg == len(a.segs) {
				a.segs = append(a.segs, Segment{From: a.from, To: prefix + name})
			}
			a.segs[a.seg].Module += d
			a.seg++
		}
	}
	if a.segments {
		a.from = prefix + name
	}
}

// begin and end bracket a top-level export call (callLocked, never nested).
func (a *moduleAcct) begin(name string) {
	a.depth = 0 // a trap may have left frames behind
	a.exportEnter(name)
}

func (a *moduleAcct) end(name string) {
	for a.depth > 1 { // frames a trap left open
		a.exportExit(name)
	}
	a.exportExit(name)
}

// exportEnter is called as an export call (top level or the nested
// allocation callback) starts.
func (a *moduleAcct) exportEnter(name string) {
	if a.depth == 0 {
		a.module, a.host = 0, 0
		a.inHost = a.inHost[:0]
		a.seg, a.from = 0, "entry"
		a.last = time.Now()
		if a.trace {
			a.traces = append(a.traces, ExportTrace{Export: name})
		}
	} else {
		a.split("→ ", name)
		a.note(name)
	}
	a.depth++
	a.inHost = append(a.inHost, false)
}

func (a *moduleAcct) exportExit(name string) {
	if a.depth > 1 {
		a.split("← ", name)
	} else {
		a.split("", "return")
	}
	a.inHost = a.inHost[:len(a.inHost)-1]
	a.depth--
	if a.depth > 0 {
		return
	}
	e := a.exports[name]
	e.Calls++
	e.Module += a.module
	e.Host += a.host
	a.exports[name] = e
}

func (a *moduleAcct) hostEnter(name string) {
	if a.depth == 0 {
		return // a hostcall outside any accounted call (cannot happen)
	}
	a.split("→ ", name)
	a.inHost = append(a.inHost, true)
	a.note(name)
}

func (a *moduleAcct) hostExit() {
	if a.depth == 0 {
		return
	}
	a.split("← ", "host")
	a.inHost = a.inHost[:len(a.inHost)-1]
}

func (a *moduleAcct) note(name string) {
	if a.trace && len(a.traces) > 0 {
		t := &a.traces[len(a.traces)-1]
		t.Hostcalls = append(t.Hostcalls, name)
	}
}

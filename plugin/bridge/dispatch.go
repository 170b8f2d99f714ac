//go:build wasip1 && !tinygo

package bridge

// callout is a dispatched HTTP call waiting for its answer.
type callout struct {
	root, id uint32 // Envoy numbers callouts per root context
	caller   uint32 // the context that dispatched it, to answer to
	cb       func(numHeaders, bodySize, numTrailers int)
}

// pending holds the callouts in flight: a transfer has at most one, so a
// short slice scanned linearly beats a map.
var pending []callout

// takeCallout removes and returns the callout root's id names.
func takeCallout(root, id uint32) (callout, bool) {
	for i, c := range pending {
		if c.root == root && c.id == id {
			last := len(pending) - 1
			pending[i] = pending[last]
			pending[last] = callout{} // drop the callback's references
			pending = pending[:last]
			return c, true
		}
	}
	return callout{}, false
}

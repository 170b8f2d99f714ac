package envoyhost

// RouteFilter is what a route's typed_per_filter_config says about the
// Wasm filter (an envoy.config.route.v3.FilterConfig).
type RouteFilter int

const (
	// RouteFilterDefault: the route says nothing; http_filters decides.
	RouteFilterDefault RouteFilter = iota
	// RouteFilterEnabled: a FilterConfig with disabled false, which enables
	// a filter marked disabled in http_filters.
	RouteFilterEnabled
	// RouteFilterDisabled: a FilterConfig with disabled true.
	RouteFilterDisabled
)

// filterEnabled decides, as Envoy does when it builds the stream's filter
// chain from the selected route, whether the Wasm filter runs at all. A
// request without a route keeps http_filters' default.
func (h *Host) filterEnabled(path string) bool {
	r, ok := h.route(path)
	if !ok {
		return !h.cfg.FilterDisabled
	}
	switch r.Filter {
	case RouteFilterEnabled:
		return true
	case RouteFilterDisabled:
		return false
	}
	return !h.cfg.FilterDisabled
}

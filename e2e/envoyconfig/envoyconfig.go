// Package envoyconfig reads envoy.yaml with Envoy's own API types
// (go-control-plane): it unmarshals the YAML into a Bootstrap with every
// typed_config resolved, runs the protos' validation rules on the bootstrap
// and on each typed config, and extracts what the local run needs from it:
// the listener, the routes, the wasm filter's settings and the clusters.
package envoyconfig

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwtauthnv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"sigs.k8s.io/yaml"

	"github.com/firmly/session-transfer-filter/internal/config"

	streamlogv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"

	// Registers the router's typed config for the Any resolver.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
)

// wasmFilterName is the Wasm HTTP filter's name in http_filters and in
// typed_per_filter_config.
const wasmFilterName = "envoy.filters.http.wasm"

// jwtAuthnFilterName is jwt_authn's name, likewise.
const jwtAuthnFilterName = "envoy.filters.http.jwt_authn"

// Config is what the local run takes from envoy.yaml.
type Config struct {
	Bootstrap *bootstrapv3.Bootstrap
	Listener  SocketAddress
	Admin     SocketAddress
	Routes    []Route
	Wasm      Wasm
	Clusters  map[string]Cluster
	// StatsTags are stats_config.stats_tags (tag name and regex).
	StatsTags []StatsTag
	// AccessLogs are the connection manager's stdout access logs.
	AccessLogs []AccessLog
	// JwtAuthn is the jwt_authn filter's configuration when http_filters
	// has one (before the wasm filter: delegated verification); else nil.
	JwtAuthn *jwtauthnv3.JwtAuthentication
	// HCM is what the connection manager does before any filter runs.
	HCM HCM
}

// HCM is the connection manager's edge settings.
type HCM struct {
	NormalizePath          bool // normalize_path
	MergeSlashes           bool // merge_slashes
	EscapedSlashes         hcmv3.HttpConnectionManager_PathWithEscapedSlashesAction
	HeadersWithUnderscores corev3.HttpProtocolOptions_HeadersWithUnderscoresAction
	UseRemoteAddress       bool
	XffNumTrustedHops      uint32
	// Zero when unset; see Envoy's defaults for each.
	RequestHeadersTimeout, RequestTimeout, StreamIdleTimeout, IdleTimeout time.Duration
}

// StatsTag is one stats_config.stats_tags entry.
type StatsTag struct {
	Name  string
	Regex *regexp.Regexp
}

// AccessLog is an envoy.access_loggers.stdout log_format: JSON
// (json_format, each value a format string) or Text (text_format).
type AccessLog struct {
	JSON map[string]string
	Text string
}

// SocketAddress is an address and port.
type SocketAddress struct {
	Address string
	Port    uint32
}

// Route is a route of the listener's virtual host.
type Route struct {
	Prefix    string
	Regex     *regexp.Regexp
	Cluster   string
	TimeoutMs int64
	// CaseInsensitive is case_sensitive: false (prefix and path matches
	// only; Envoy ignores it for safe_regex, so Parse refuses it there).
	CaseInsensitive bool
	// WasmFilter is the route's typed_per_filter_config for the Wasm
	// filter: nil when absent, else whether it disables the filter.
	WasmFilter *FilterConfig
	// JwtRequirement is the route's jwt_authn PerRouteConfig
	// requirement_name ("" when it has none).
	JwtRequirement string
}

// FilterConfig is a route's envoy.config.route.v3.FilterConfig.
type FilterConfig struct{ Disabled bool }

// Wasm is the wasm filter's configuration.
type Wasm struct {
	Name                        string
	RootID                      string
	VMID                        string
	CodeFile                    string
	PluginConfig                string // the StringValue configuration
	Env                         map[string]string
	FailurePolicy               wasmv3.FailurePolicy
	AllowOnHeadersStopIteration bool
	// Disabled is http_filters[].disabled: the filter runs only on routes
	// that enable it.
	Disabled bool
}

// ParsePluginConfig runs the filter's configuration through the plugin's
// own parser, with secrets from the VM environment, as the plugin does.
func (w Wasm) ParsePluginConfig() (*config.Config, error) {
	return config.Parse([]byte(w.PluginConfig), func(k string) (string, bool) { v, ok := w.Env[k]; return v, ok })
}

// Cluster is one upstream cluster with a single endpoint.
type Cluster struct {
	Name    string
	Address SocketAddress
	TLS     *UpstreamTLS
	// CircuitBreaker is circuit_breakers' DEFAULT-priority thresholds with
	// Envoy's defaults filled in; nil when the cluster sets none.
	CircuitBreaker *CircuitBreaker
	// OutlierDetection is the cluster's outlier_detection, nil when unset.
	OutlierDetection *clusterv3.OutlierDetection
}

// CircuitBreaker is one circuit_breakers.thresholds entry.
type CircuitBreaker struct {
	MaxConnections, MaxPendingRequests, MaxRequests, MaxRetries uint32
}

// UpstreamTLS is a cluster's TLS transport socket.
type UpstreamTLS struct {
	SNI           string
	TrustedCAFile string
	SANs          []string
}

// Load reads, validates and extracts envoy.yaml.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("envoyconfig: %w", err)
	}
	return Parse(raw)
}

// Parse validates and extracts a bootstrap given as YAML.
func Parse(raw []byte) (*Config, error) {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("envoyconfig: YAML: %w", err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(js, b); err != nil {
		return nil, fmt.Errorf("envoyconfig: not an Envoy bootstrap: %w", err)
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("envoyconfig: bootstrap: %w", err)
	}
	c := &Config{Bootstrap: b, Clusters: map[string]Cluster{}}
	for _, t := range b.GetStatsConfig().GetStatsTags() {
		re, err := regexp.Compile(t.GetRegex())
		if err != nil {
			return nil, fmt.Errorf("envoyconfig: stats tag %s: %w", t.GetTagName(), err)
		}
		c.StatsTags = append(c.StatsTags, StatsTag{t.GetTagName(), re})
	}
	if a := b.GetAdmin().GetAddress().GetSocketAddress(); a != nil {
		c.Admin = SocketAddress{a.GetAddress(), a.GetPortValue()}
	}
	ls := b.GetStaticResources().GetListeners()
	if len(ls) != 1 {
		return nil, fmt.Errorf("envoyconfig: want exactly one listener, found %d", len(ls))
	}
	l := ls[0]
	a := l.GetAddress().GetSocketAddress()
	c.Listener = SocketAddress{a.GetAddress(), a.GetPortValue()}
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			hcm := &hcmv3.HttpConnectionManager{}
			if err := unpack(f.GetTypedConfig(), hcm, "listener "+l.GetName()+" filter "+f.GetName()); err != nil {
				return nil, err
			}
			if err := c.readHCM(hcm); err != nil {
				return nil, err
			}
		}
	}
	for _, cl := range b.GetStaticResources().GetClusters() {
		cc, err := readCluster(cl)
		if err != nil {
			return nil, err
		}
		c.Clusters[cc.Name] = cc
	}
	for _, r := range c.Routes {
		if _, ok := c.Clusters[r.Cluster]; !ok {
			return nil, fmt.Errorf("envoyconfig: a route names unknown cluster %q", r.Cluster)
		}
	}
	if c.Wasm.CodeFile == "" {
		return nil, errors.New("envoyconfig: no wasm filter found")
	}
	return c, nil
}

// validator is what protoc-gen-validate generates.
type validator interface{ ValidateAll() error }

// unpack resolves a typed_config into msg and validates it.
func unpack(a *anypb.Any, msg proto.Message, where string) error {
	if a == nil {
		return fmt.Errorf("envoyconfig: %s: missing typed_config", where)
	}
	if err := a.UnmarshalTo(msg); err != nil {
		return fmt.Errorf("envoyconfig: %s: typed_config is %s: %w", where, a.GetTypeUrl(), err)
	}
	if v, ok := msg.(validator); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("envoyconfig: %s: %w", where, err)
		}
	}
	return nil
}

func (c *Config) readHCM(hcm *hcmv3.HttpConnectionManager) error {
	c.HCM = HCM{
		NormalizePath:          hcm.GetNormalizePath().GetValue(),
		MergeSlashes:           hcm.GetMergeSlashes(),
		EscapedSlashes:         hcm.GetPathWithEscapedSlashesAction(),
		HeadersWithUnderscores: hcm.GetCommonHttpProtocolOptions().GetHeadersWithUnderscoresAction(),
		UseRemoteAddress:       hcm.GetUseRemoteAddress().GetValue(),
		XffNumTrustedHops:      hcm.GetXffNumTrustedHops(),
		RequestHeadersTimeout:  hcm.GetRequestHeadersTimeout().AsDuration(),
		RequestTimeout:         hcm.GetRequestTimeout().AsDuration(),
		StreamIdleTimeout:      hcm.GetStreamIdleTimeout().AsDuration(),
		IdleTimeout:            hcm.GetCommonHttpProtocolOptions().GetIdleTimeout().AsDuration(),
	}
	for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			route := Route{Cluster: r.GetRoute().GetCluster(), TimeoutMs: r.GetRoute().GetTimeout().AsDuration().Milliseconds()}
			if cs := r.GetMatch().GetCaseSensitive(); cs != nil {
				if r.GetMatch().GetSafeRegex() != nil {
					// Envoy accepts it and ignores it (RouteMatch.case_sensitive's
					// documentation), which would leave a route case-sensitive
					// that reads as if it were not.
					return fmt.Errorf("envoyconfig: route %q: case_sensitive is ignored for safe_regex matches; write (?i) in the regex", r.GetMatch().GetSafeRegex().GetRegex())
				}
				route.CaseInsensitive = !cs.GetValue()
			}
			switch m := r.GetMatch().GetPathSpecifier().(type) {
			case *routev3.RouteMatch_Prefix:
				route.Prefix = m.Prefix
			case *routev3.RouteMatch_SafeRegex:
				re, err := regexp.Compile(m.SafeRegex.GetRegex())
				if err != nil {
					return fmt.Errorf("envoyconfig: route regex: %w", err)
				}
				route.Regex = re
			case *routev3.RouteMatch_Path:
				route.Regex = regexp.MustCompile(regexp.QuoteMeta(m.Path))
			default:
				return fmt.Errorf("envoyconfig: unsupported route match %T", m)
			}
			if a, ok := r.GetTypedPerFilterConfig()[wasmFilterName]; ok {
				fc := &routev3.FilterConfig{}
				if err := unpack(a, fc, "route typed_per_filter_config "+wasmFilterName); err != nil {
					return err
				}
				if !fc.GetDisabled() && fc.GetConfig() == nil {
					// Enforced by Envoy's code (per_filter_config.cc), not by the proto's rules.
					return fmt.Errorf("envoyconfig: route typed_per_filter_config %s: a FilterConfig that enables a filter needs config: {}", wasmFilterName)
				}
				route.WasmFilter = &FilterConfig{Disabled: fc.GetDisabled()}
			}
			if a, ok := r.GetTypedPerFilterConfig()[jwtAuthnFilterName]; ok {
				pr := &jwtauthnv3.PerRouteConfig{}
				if err := unpack(a, pr, "route typed_per_filter_config "+jwtAuthnFilterName); err != nil {
					return err
				}
				if pr.GetDisabled() {
					return fmt.Errorf("envoyconfig: route typed_per_filter_config %s: disabled is not emulated; use a route without a requirement", jwtAuthnFilterName)
				}
				route.JwtRequirement = pr.GetRequirementName()
			}
			c.Routes = append(c.Routes, route)
		}
	}
	for _, al := range hcm.GetAccessLog() {
		l := &streamlogv3.StdoutAccessLog{}
		if err := unpack(al.GetTypedConfig(), l, "access log "+al.GetName()); err != nil {
			return err
		}
		f := l.GetLogFormat()
		out := AccessLog{Text: f.GetTextFormat()}
		if js := f.GetJsonFormat(); js != nil {
			out.JSON = map[string]string{}
			for k, v := range js.GetFields() {
				out.JSON[k] = v.GetStringValue()
			}
		}
		c.AccessLogs = append(c.AccessLogs, out)
	}
	for _, hf := range hcm.GetHttpFilters() {
		if hf.GetName() == jwtAuthnFilterName {
			ja := &jwtauthnv3.JwtAuthentication{}
			if err := unpack(hf.GetTypedConfig(), ja, "http filter "+hf.GetName()); err != nil {
				return err
			}
			if c.Wasm.CodeFile != "" {
				return fmt.Errorf("envoyconfig: http filter %s comes after the wasm filter, which reads the payload it verifies: put it before", jwtAuthnFilterName)
			}
			c.JwtAuthn = ja
			continue
		}
		if hf.GetName() != wasmFilterName {
			msg, err := hf.GetTypedConfig().UnmarshalNew()
			if err != nil {
				return fmt.Errorf("envoyconfig: http filter %s: %w", hf.GetName(), err)
			}
			if v, ok := msg.(validator); ok {
				if err := v.ValidateAll(); err != nil {
					return fmt.Errorf("envoyconfig: http filter %s: %w", hf.GetName(), err)
				}
			}
			continue
		}
		w := &wasmfilterv3.Wasm{}
		if err := unpack(hf.GetTypedConfig(), w, "http filter "+hf.GetName()); err != nil {
			return err
		}
		pc := w.GetConfig()
		if pc.GetFailOpen() && pc.GetFailurePolicy() != wasmv3.FailurePolicy_UNSPECIFIED {
			// Enforced by Envoy's code, not by the proto's rules.
			return errors.New("envoyconfig: wasm filter sets both fail_open and failure_policy, which Envoy rejects")
		}
		vm := pc.GetVmConfig()
		sv := &wrapperspb.StringValue{}
		if err := unpack(pc.GetConfiguration(), sv, "wasm configuration"); err != nil {
			return err
		}
		c.Wasm = Wasm{
			Name: pc.GetName(), RootID: pc.GetRootId(), VMID: vm.GetVmId(),
			CodeFile:                    vm.GetCode().GetLocal().GetFilename(),
			PluginConfig:                sv.GetValue(),
			Env:                         vm.GetEnvironmentVariables().GetKeyValues(),
			FailurePolicy:               pc.GetFailurePolicy(),
			AllowOnHeadersStopIteration: pc.GetAllowOnHeadersStopIteration().GetValue(),
			Disabled:                    hf.GetDisabled(),
		}
		if c.Wasm.CodeFile == "" {
			return errors.New("envoyconfig: the wasm filter's code must be vm_config.code.local.filename")
		}
	}
	return nil
}

func readCluster(cl *clusterv3.Cluster) (Cluster, error) {
	out := Cluster{Name: cl.GetName()}
	eps := cl.GetLoadAssignment().GetEndpoints()
	if len(eps) != 1 || len(eps[0].GetLbEndpoints()) != 1 {
		return out, fmt.Errorf("envoyconfig: cluster %s: want exactly one endpoint", cl.GetName())
	}
	var sa *corev3.SocketAddress = eps[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	out.Address = SocketAddress{sa.GetAddress(), sa.GetPortValue()}
	out.OutlierDetection = cl.GetOutlierDetection()
	for _, th := range cl.GetCircuitBreakers().GetThresholds() {
		if th.GetPriority() != corev3.RoutingPriority_DEFAULT {
			continue
		}
		// Envoy's defaults for a field left unset (cluster.proto).
		or := func(v *wrapperspb.UInt32Value, def uint32) uint32 {
			if v == nil {
				return def
			}
			return v.GetValue()
		}
		out.CircuitBreaker = &CircuitBreaker{
			MaxConnections:     or(th.GetMaxConnections(), 1024),
			MaxPendingRequests: or(th.GetMaxPendingRequests(), 1024),
			MaxRequests:        or(th.GetMaxRequests(), 1024),
			MaxRetries:         or(th.GetMaxRetries(), 3),
		}
	}
	if ts := cl.GetTransportSocket(); ts != nil {
		t := &tlsv3.UpstreamTlsContext{}
		if err := unpack(ts.GetTypedConfig(), t, "cluster "+cl.GetName()+" transport socket"); err != nil {
			return out, err
		}
		vc := t.GetCommonTlsContext().GetValidationContext()
		out.TLS = &UpstreamTLS{SNI: t.GetSni(), TrustedCAFile: vc.GetTrustedCa().GetFilename()}
		for _, m := range vc.GetMatchTypedSubjectAltNames() {
			out.TLS.SANs = append(out.TLS.SANs, m.GetMatcher().GetExact())
		}
	}
	return out, nil
}

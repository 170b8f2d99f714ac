// Package localstack runs the whole stack on this machine without Docker:
// the reference merchant, session backend and device-token issuer (the
// remote JWKS), an API stand-in, and the
// Envoy-faithful host serving plugin.wasm as an HTTP proxy. Every setting
// comes from envoy.yaml (listener port, the wasm filter's configuration and
// environment, routes, cluster ports and TLS); only two things are mapped,
// as the docker-compose stack maps them the other way: /etc/envoy/ paths
// point into this repository, and every cluster host is 127.0.0.1.
package localstack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"github.com/firmly/session-transfer-filter/e2e/envoyconfig"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/e2e/refbackend"
	"github.com/firmly/session-transfer-filter/e2e/refissuer"
	"github.com/firmly/session-transfer-filter/e2e/refmerchant"
	"github.com/firmly/session-transfer-filter/internal/config"
	"github.com/firmly/session-transfer-filter/internal/metrics"
)

// localWorkers is the number of worker VMs of the local run.
const localWorkers = 2

// Options configure a local stack.
type Options struct {
	// RepoRoot holds envoy.yaml, e2e/dev and e2e/fixtures.
	RepoRoot string
	// EnvoyConfig is the Envoy configuration under RepoRoot (default
	// envoy.yaml; envoy-delegated.yaml runs jwt_authn before the filter),
	// or an absolute path (a test's variant of one).
	EnvoyConfig string
	// Wasm is the compiled plugin (envoy.yaml's /etc/envoy/plugin.wasm).
	Wasm []byte
	// Ephemeral binds every server to 127.0.0.1:0 instead of envoy.yaml's
	// ports, so tests can run side by side.
	Ephemeral bool
	// DataDir keeps the session backend's store; default a temporary folder.
	DataDir string
	// Envoy selects the emulated Envoy's WASI (default 1.33, the strictest).
	Envoy envoyhost.EnvoyVersion
	// Logger receives the plugin's log lines.
	Logger func(envoyhost.LogEntry)
	// AccessLog receives envoy.yaml's access log (Envoy writes it to stdout).
	AccessLog io.Writer
	// Clock, when set, is the host's test clock: ticks run only when it is
	// advanced (Start advances it until the remote keys are loaded).
	Clock *envoyhost.TestClock
	// ServicesOnly starts the reference services and the API stand-in but
	// no proxy, for a real Envoy to take the host's place (ClusterAddrs
	// says where each cluster's service listens).
	ServicesOnly bool
}

// Stack is a running local stack.
type Stack struct {
	Config      *envoyconfig.Config
	Plugin      *config.Config
	Host        *envoyhost.Host
	Merchant    *refmerchant.Merchant
	Backend     *refbackend.Backend
	Issuer      *refissuer.Issuer // nil without auth.remote_jwks
	ProxyURL    string            // http://127.0.0.1:<listener port>
	AdminURL    string            // http://127.0.0.1:<admin port>: /ready, /stats, /stats/prometheus
	MerchantURL string            // https:// of the reference merchant
	BackendURL  string            // https:// of the reference backend
	IssuerURL   string            // https:// of the reference issuer, when there is one
	Client      *http.Client
	// ClusterAddrs maps each envoy.yaml cluster to its service's 127.0.0.1 address.
	ClusterAddrs map[string]string

	opts        Options
	backendAddr string
	backendPath string
	backendTLS  *tls.Config
	backendSrv  *http.Server
	servers     []*http.Server
	tempDir     string
}

// Start brings the stack up; Close takes it down.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	if o.EnvoyConfig == "" {
		o.EnvoyConfig = "envoy.yaml"
	}
	cfgPath := o.EnvoyConfig
	if !filepath.IsAbs(cfgPath) {
		cfgPath = filepath.Join(o.RepoRoot, cfgPath)
	}
	ec, err := envoyconfig.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	w := ec.Wasm
	pc, err := w.ParsePluginConfig()
	if err != nil {
		return nil, fmt.Errorf("localstack: %s's plugin configuration: %w", o.EnvoyConfig, err)
	}
	s := &Stack{Config: ec, Plugin: pc, opts: o}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	devDir := filepath.Join(o.RepoRoot, "e2e", "dev")
	serverCert, err := tls.LoadX509KeyPair(filepath.Join(devDir, "server.pem"), filepath.Join(devDir, "server-key.pem"))
	if err != nil {
		return nil, fmt.Errorf("localstack: development certificate: %w", err)
	}
	srvTLS := &tls.Config{Certificates: []tls.Certificate{serverCert}}

	fixture, err := refmerchant.LoadFixture(filepath.Join(o.RepoRoot, "e2e", "fixtures", "luma.json"))
	if err != nil {
		return nil, err
	}
	s.Merchant = refmerchant.New(fixture)
	if o.DataDir == "" {
		if s.tempDir, err = os.MkdirTemp("", "localstack"); err != nil {
			return nil, err
		}
		o.DataDir = s.tempDir
	}
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, err
	}
	s.backendPath = filepath.Join(o.DataDir, "sessions.db")
	if s.Backend, err = refbackend.Open(s.backendPath, pc.Backend.PathPrefix); err != nil {
		return nil, err
	}

	jwksCluster := ""
	if rj := pc.Auth.RemoteJWKS; rj != nil {
		jwksCluster = rj.Cluster
	}
	var jwtAuthn *envoyhost.JwtAuthn
	if ec.JwtAuthn != nil {
		// Delegated verification: jwt_authn fetches the issuer's keys.
		if jwtAuthn, err = envoyhost.NewJwtAuthn(ec.JwtAuthn); err != nil {
			return nil, err
		}
		for _, p := range ec.JwtAuthn.GetProviders() {
			if c := p.GetRemoteJwks().GetHttpUri().GetCluster(); c != "" {
				jwksCluster = c
			}
		}
	}
	if jwksCluster != "" {
		if s.Issuer, err = refissuer.Load(filepath.Join(devDir, "device-token-key.jwk")); err != nil {
			return nil, err
		}
	}
	merchantClusters := map[string]*config.Merchant{}
	for _, m := range pc.Merchants {
		merchantClusters[m.Cluster] = m
	}
	hostClusters := map[string]envoyhost.Cluster{}
	s.ClusterAddrs = map[string]string{}
	for name, cl := range ec.Clusters {
		var handler http.Handler
		switch {
		case merchantClusters[name] != nil:
			handler = s.Merchant.Handler(merchantClusters[name].ExportPath)
		case name == pc.Backend.Cluster:
			handler = s.Backend.Handler()
		case name == jwksCluster:
			handler = s.Issuer.Handler()
		default:
			handler = apiStandIn()
		}
		var tlsCfg *tls.Config
		if cl.TLS != nil {
			tlsCfg = srvTLS
		}
		addr, srv, err := s.serve(cl.Address.Port, handler, tlsCfg)
		if err != nil {
			return nil, fmt.Errorf("localstack: cluster %s: %w", name, err)
		}
		s.ClusterAddrs[name] = addr
		hc := envoyhost.Cluster{Addr: addr}
		if cb := cl.CircuitBreaker; cb != nil {
			hc.CircuitBreaker = &envoyhost.CircuitBreaker{MaxConnections: cb.MaxConnections, MaxPendingRequests: cb.MaxPendingRequests, MaxRequests: cb.MaxRequests, MaxRetries: cb.MaxRetries}
		}
		if cl.TLS != nil {
			if hc.TLS, err = clientTLS(o.RepoRoot, cl.TLS); err != nil {
				return nil, err
			}
		}
		hostClusters[name] = hc
		scheme := "http"
		if cl.TLS != nil {
			scheme = "https"
		}
		switch {
		case merchantClusters[name] != nil && s.MerchantURL == "":
			s.MerchantURL = scheme + "://" + addr
		case name == pc.Backend.Cluster:
			s.BackendURL, s.backendAddr, s.backendTLS, s.backendSrv = scheme+"://"+addr, addr, tlsCfg, srv
		case name == jwksCluster:
			s.IssuerURL = scheme + "://" + addr
		}
	}

	roots, err := caPool(filepath.Join(devDir, "ca.pem"))
	if err != nil {
		return nil, err
	}
	s.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	if o.ServicesOnly {
		return s, nil
	}

	var routes []envoyhost.Route
	for _, r := range ec.Routes {
		hr := envoyhost.Route{Prefix: r.Prefix, Regex: r.Regex, Cluster: r.Cluster, Timeout: time.Duration(r.TimeoutMs) * time.Millisecond, CaseInsensitive: r.CaseInsensitive,
			JwtRequirement: r.JwtRequirement}
		if f := r.WasmFilter; f != nil {
			hr.Filter = envoyhost.RouteFilterEnabled
			if f.Disabled {
				hr.Filter = envoyhost.RouteFilterDisabled
			}
		}
		routes = append(routes, hr)
	}
	var tags []envoyhost.StatsTag
	for _, t := range ec.StatsTags {
		tags = append(tags, envoyhost.StatsTag{Name: t.Name, Regex: t.Regex})
	}
	var accessLog *envoyhost.AccessLog
	if len(ec.AccessLogs) > 0 {
		accessLog = &envoyhost.AccessLog{JSON: ec.AccessLogs[0].JSON, Text: ec.AccessLogs[0].Text, Out: o.AccessLog}
	}
	policy := envoyhost.FailClosed
	if w.FailurePolicy == wasmv3.FailurePolicy_FAIL_OPEN {
		policy = envoyhost.FailOpen
	}
	s.Host, err = envoyhost.Start(ctx, o.Wasm, envoyhost.Config{
		PluginConfig: []byte(w.PluginConfig), Env: w.Env, Envoy: o.Envoy,
		AllowOnHeadersStopIteration: w.AllowOnHeadersStopIteration,
		Clusters:                    hostClusters, Routes: routes, FailurePolicy: policy,
		PluginName: w.Name, RootID: w.RootID, VMID: w.VMID, Workers: localWorkers, Logger: o.Logger,
		BufferLimit:    int(listenerBufferLimit(ec)),
		FilterDisabled: w.Disabled, StatsTags: tags, AccessLog: accessLog, Clock: o.Clock,
		Path: HostPath(ec.HCM), HeadersWithUnderscores: HostUnderscores(ec.HCM),
		JwtAuthn: jwtAuthn,
	})
	if err != nil {
		return nil, err
	}
	addr, _, err := s.serve(ec.Listener.Port, s.Host, nil)
	if err != nil {
		return nil, fmt.Errorf("localstack: listener: %w", err)
	}
	s.ProxyURL = "http://" + addr
	if addr, _, err = s.serve(ec.Admin.Port, s.Host.AdminHandler(), nil); err != nil {
		return nil, fmt.Errorf("localstack: admin: %w", err)
	}
	s.AdminURL = "http://" + addr
	// Only the filter's own remote JWKS is waited for: with delegated
	// verification jwt_authn fetches the keys when the first request needs them.
	if pc.Auth.RemoteJWKS != nil {
		if err := s.waitForKeys(ctx, localWorkers); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// waitForKeys returns once every worker VM has loaded the remote JWKS, so
// the stack is never shown ready while transfers would get 503
// ErrorAuthUnavailable.
func (s *Stack) waitForKeys(ctx context.Context, workers uint64) error {
	for {
		if n, _ := s.Host.Metric(metrics.JWKSFetchSuccess); n >= workers {
			return nil
		}
		if s.opts.Clock != nil {
			s.opts.Clock.Advance(time.Second)
			s.Host.WaitCallouts(ctx)
		} else {
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
		if ctx.Err() != nil {
			failures, _ := s.Host.Metric(metrics.JWKSFetchFailure)
			return fmt.Errorf("localstack: the plugin did not load the remote JWKS (%d failed fetches): %w", failures, ctx.Err())
		}
	}
}

func listenerBufferLimit(ec *envoyconfig.Config) uint32 {
	if l := ec.Bootstrap.GetStaticResources().GetListeners(); len(l) > 0 && l[0].GetPerConnectionBufferLimitBytes() != nil {
		return l[0].GetPerConnectionBufferLimitBytes().GetValue()
	}
	return 1 << 20
}

// serve starts an HTTP(S) server on 127.0.0.1 at port (or an ephemeral one).
func (s *Stack) serve(port uint32, h http.Handler, tlsCfg *tls.Config) (string, *http.Server, error) {
	if s.opts.Ephemeral {
		port = 0
	}
	return s.serveAt(fmt.Sprintf("127.0.0.1:%d", port), h, tlsCfg)
}

func (s *Stack) serveAt(addr string, h http.Handler, tlsCfg *tls.Config) (string, *http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	go srv.Serve(ln)
	s.servers = append(s.servers, srv)
	return ln.Addr().String(), srv, nil
}

// clientTLS is the host cluster's upstream TLS: SNI and the trusted CA from
// envoy.yaml, with /etc/envoy/certs/ mapped to e2e/dev/.
func clientTLS(root string, t *envoyconfig.UpstreamTLS) (*tls.Config, error) {
	path := t.TrustedCAFile
	if rest, ok := strings.CutPrefix(path, "/etc/envoy/certs/"); ok {
		path = filepath.Join(root, "e2e", "dev", rest)
	}
	pool, err := caPool(path)
	if err != nil {
		return nil, err
	}
	serverName := t.SNI
	if len(t.SANs) > 0 {
		serverName = t.SANs[0]
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName}, nil
}

func caPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("localstack: trusted CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("localstack: %s holds no certificate", path)
	}
	return pool, nil
}

// apiStandIn stands in for the Firmly API upstream: it reads the whole body
// before answering, as SPEC §2.1a requires of the transfer route's upstream.
func apiStandIn() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("content-type", "application/json")
		fmt.Fprintf(w, `{"upstream":"firmly-api stand-in","method":%q,"path":%q,"body_bytes":%d}`+"\n", r.Method, r.URL.Path, n)
	})
}

// RestartBackend stops the session backend and its store, then reopens both
// on the same address and file.
func (s *Stack) RestartBackend() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.backendSrv.Shutdown(ctx)
	if err := s.Backend.Close(); err != nil {
		return err
	}
	b, err := refbackend.Open(s.backendPath, s.Plugin.Backend.PathPrefix)
	if err != nil {
		return err
	}
	s.Backend = b
	var srv *http.Server
	for i := 0; i < 50; i++ { // the port may take a moment to free
		if _, srv, err = s.serveAt(s.backendAddr, b.Handler(), s.backendTLS); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("localstack: restart backend: %w", err)
	}
	s.backendSrv = srv
	return nil
}

// Close stops everything.
func (s *Stack) Close() {
	for _, srv := range s.servers {
		srv.Close()
	}
	if s.Host != nil {
		s.Host.Close(context.Background())
	}
	if s.Backend != nil {
		s.Backend.Close()
	}
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
	}
}

// DevToken signs a device token with the development key in
// e2e/dev/device-token-key.jwk (kid dev-1), the key the reference issuer
// serves until it is rotated.
func DevToken(repoRoot, deviceID string, ttl time.Duration) (string, error) {
	iss, err := refissuer.Load(filepath.Join(repoRoot, "e2e", "dev", "device-token-key.jwk"))
	if err != nil {
		return "", fmt.Errorf("localstack: development key: %w", err)
	}
	tok, _, _, err := iss.Mint(deviceID, "local-dev", ttl)
	return tok, err
}

// Curl is a ready-to-paste transfer of the fixture's demo session. With
// jwt_authn in front the token carries the "Bearer " prefix its
// from_headers value_prefix asks for.
func (s *Stack) Curl(token string) string {
	if s.Config.JwtAuthn != nil {
		token = "Bearer " + token
	}
	return fmt.Sprintf(`curl -sS -X POST %s/api/v2/domains/staging.luma.gift/session/transfer \
  -H 'content-type: application/json' \
  -H 'x-firmly-authorization: %s' \
  -d '{"handle":"3f1c2a9e-7b4d-4e8a-9c2f-5d6e7f8a9b0c"}'`, s.ProxyURL, token)
}

var errNoRepo = errors.New("localstack: envoy.yaml not found; run from the repository root")

// FindRepoRoot walks up from dir to the folder holding envoy.yaml.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "envoy.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errNoRepo
		}
		dir = parent
	}
}

// HostPath is the host's form of envoy.yaml's path settings.
func HostPath(h envoyconfig.HCM) envoyhost.PathNormalization {
	n := envoyhost.PathNormalization{NormalizePath: h.NormalizePath, MergeSlashes: h.MergeSlashes}
	switch h.EscapedSlashes {
	case hcmv3.HttpConnectionManager_REJECT_REQUEST:
		n.EscapedSlashes = envoyhost.EscapedSlashesRejectRequest
	case hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT:
		n.EscapedSlashes = envoyhost.EscapedSlashesUnescapeAndRedirect
	case hcmv3.HttpConnectionManager_UNESCAPE_AND_FORWARD:
		n.EscapedSlashes = envoyhost.EscapedSlashesUnescapeAndForward
	}
	return n
}

// HostUnderscores is the host's form of envoy.yaml's
// headers_with_underscores_action.
func HostUnderscores(h envoyconfig.HCM) envoyhost.UnderscoreAction {
	switch h.HeadersWithUnderscores {
	case corev3.HttpProtocolOptions_REJECT_REQUEST:
		return envoyhost.UnderscoresRejectRequest
	case corev3.HttpProtocolOptions_DROP_HEADER:
		return envoyhost.UnderscoresDropHeader
	}
	return envoyhost.UnderscoresAllow
}

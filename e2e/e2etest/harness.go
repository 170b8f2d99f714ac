// Package e2etest is the end-to-end tests' harness: the plugin in the Envoy-faithful host
// (envoyhost) with test services behind it, device tokens of test keys, and the local stack.
package e2etest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cristalhq/jwt/v4"

	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/e2e/wasmbuild"
)

// The test merchant's domain, the secrets of the default configuration, and two handles
// with the session keys they derive.
const (
	TestDomain     = "staging.luma.gift"
	TestSecret     = "test-secret-0123456789abcdef0123456789abcdef"
	TestHS256      = "hs256-secret-0123456789abcdef0123456789"
	StringHandle   = "3f1c2a9e-7b4d-4e8a-9c2f-5d6e7f8a9b0c"
	StringHandleSK = "b4d3fb9f5b284e7b67e310e72b2a3ebbfaed01cfdf73f02536c33dd570a6fdc4"
	ObjectHandleSK = "7334bc9c2523ac4eb5483fde762c2e48fd3dd7c9bfd543ec16dc505d34047b1f"
	TransferPath   = "/api/v2/domains/staging.luma.gift/session/transfer"
)

// Keys are generated once per test binary.
var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
)

// TestKeys are the RSA and EC keys of JWKS, generated once per test binary.
func TestKeys(t testing.TB) (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return rsaKey, ecKey
}

// B64u is unpadded base64url.
func B64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// JWKS is the public key set of TestKeys (kids rsa-1 and ec-1).
func JWKS(t testing.TB) string {
	r, e := TestKeys(t)
	pad := func(b []byte) []byte { return append(make([]byte, 32-len(b)), b...) }
	return fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"rsa-1","alg":"RS256","use":"sig","n":%q,"e":%q},`+
		`{"kty":"EC","kid":"ec-1","crv":"P-256","x":%q,"y":%q}]}`,
		B64u(r.N.Bytes()), B64u(big.NewInt(int64(r.E)).Bytes()), B64u(pad(e.X.Bytes())), B64u(pad(e.Y.Bytes())))
}

// Token signs claims; alg is RS256, ES256 or HS256.
func Token(t testing.TB, alg, kid string, claims map[string]any) string {
	r, e := TestKeys(t)
	var signer jwt.Signer
	var err error
	switch alg {
	case "RS256":
		signer, err = jwt.NewSignerRS(jwt.RS256, r)
	case "ES256":
		signer, err = jwt.NewSignerES(jwt.ES256, e)
	case "HS256":
		signer, err = jwt.NewSignerHS(jwt.HS256, []byte(TestHS256))
	}
	if err != nil {
		t.Fatal(err)
	}
	var opts []jwt.BuilderOption
	if kid != "" {
		opts = append(opts, jwt.WithKeyID(kid))
	}
	tok, err := jwt.NewBuilder(signer, opts...).Build(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

// DeviceClaims are the claims of a valid device token, for an hour.
func DeviceClaims() map[string]any {
	return map[string]any{"device_id": "dev-123", "app_id": "app-1", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
}

// ValidToken is an RS256 device token of the test keys.
func ValidToken(t testing.TB) string { return Token(t, "RS256", "rsa-1", DeviceClaims()) }

// Recorded is one request a test service received.
type Recorded struct {
	Method, Path string
	Header       http.Header
	Body         string
}

// Service is a test HTTP service with a programmable answer.
type Service struct {
	mu      sync.Mutex
	calls   []Recorded
	handler http.HandlerFunc
	Srv     *httptest.Server
}

// NewService starts a test service, plain or over TLS, closed when the test ends.
func NewService(t testing.TB, tlsOn bool) *Service {
	s := &Service{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.calls = append(s.calls, Recorded{r.Method, r.URL.RequestURI(), r.Header.Clone(), string(b)})
		h := s.handler
		s.mu.Unlock()
		if h != nil {
			h(w, r)
		}
	})
	if tlsOn {
		s.Srv = httptest.NewTLSServer(h)
	} else {
		s.Srv = httptest.NewServer(h)
	}
	t.Cleanup(s.Srv.Close)
	return s
}

// Answer makes the service answer every request with status and a JSON body.
func (s *Service) Answer(status int, body string) {
	s.Set(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
}

// Set makes h answer the next requests.
func (s *Service) Set(h http.HandlerFunc) {
	s.mu.Lock()
	s.handler = h
	s.mu.Unlock()
}

// Received is every request the service received, in order.
func (s *Service) Received() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Recorded(nil), s.calls...)
}

// Addr is the service's host:port.
func (s *Service) Addr() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.Srv.URL, "http://"), "https://")
}

// Stack is the plugin in the host, with a merchant, a backend and an app
// upstream behind it.
type Stack struct {
	Host     *envoyhost.Host
	Merchant *Service
	Backend  *Service
	App      *Service
}

// LumaCart is the test merchant's cart answer.
const LumaCart = `{"cart":{"platform_id":"magento","currency":"USD","line_items":[` +
	`{"platform_line_item_id":"0","sku":"MH07-XS-Gray","base_sku":"MH07","variant_id":"v-1","description":"Hero Hoodie",` +
	`"variant_description":"Gray / XS","quantity":2,"unit_price":5400,"msrp":6400,` +
	`"image":{"url":"https://img.example/mh07.jpg","alt":"Hero Hoodie"},"requires_shipping":true,"available_quantity":10},` +
	`{"platform_line_item_id":"1","sku":"GIFT-CARD","description":"Gift card","quantity":1,"unit_price":2500,` +
	`"requires_shipping":false,"available_quantity":100}],"shipping_total":500,"tax_total":864,"coupons":["WELCOME"]}}`

// PluginConfig is the plugin configuration NewStack starts with.
func PluginConfig(t testing.TB, o StackOpts) string {
	if o.MerchantTimeoutMs == 0 {
		o.MerchantTimeoutMs = 2000
	}
	if o.BackendTimeoutMs == 0 {
		o.BackendTimeoutMs = 2000
	}
	cfg := fmt.Sprintf(`{
  "auth": {"jwks": %s, "hs256_secret": %q, "allowed_app_ids": ["app-1", "app-2"]},
  "session_key": {"secret": %q},
  "merchants": {
    %q: {"cluster": "merchant_luma", "display_name": "Luma Store", "platform_id": "magento", "timeout_ms": %d,
      "headers": {"x-merchant-key": "mk-1"}, "payment_method_options": [{"type": "CreditCard", "wallet": "user"}]}
  },
  "backend": {"cluster": "session_backend", "authority": "sessions.internal", "timeout_ms": %d, "headers": {"x-backend-key": "bk-1"}}%s
}`, JWKS(t), TestHS256, TestSecret, TestDomain, o.MerchantTimeoutMs, o.BackendTimeoutMs, o.ExtraConfig)
	return cfg
}

// StackOpts change a stack from the default configuration.
type StackOpts struct {
	ExtraConfig       string // appended inside the top-level object, starting with a comma
	MerchantTimeoutMs int
	BackendTimeoutMs  int
	HostConfig        func(*envoyhost.Config)
	Wasm              []byte // default: the product plugin
	PluginConfig      string // replaces the whole plugin configuration when set
}

// NewStack starts the plugin in the host with a merchant, a backend and an app upstream, closed when the test ends.
func NewStack(t testing.TB, o StackOpts) *Stack {
	t.Helper()
	st := &Stack{Merchant: NewService(t, false), Backend: NewService(t, false), App: NewService(t, false)}
	st.Merchant.Answer(200, LumaCart)
	st.Backend.Answer(201, `{"ok":true}`)
	st.App.Set(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("app")) })
	pc := o.PluginConfig
	if pc == "" {
		pc = PluginConfig(t, o)
	}
	cfg := envoyhost.Config{
		PluginConfig: []byte(pc),
		Clusters: map[string]envoyhost.Cluster{
			"merchant_luma":   {Addr: st.Merchant.Addr()},
			"session_backend": {Addr: st.Backend.Addr()},
			"app":             {Addr: st.App.Addr()},
		},
		Routes: []envoyhost.Route{{Prefix: "/", Cluster: "app"}},
	}
	if o.HostConfig != nil {
		o.HostConfig(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wasm := o.Wasm
	if wasm == nil {
		wasm = PluginWasm(t)
	}
	h, err := envoyhost.Start(ctx, wasm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	st.Host = h
	return st
}

// Req builds a transfer request with a valid token and JSON content type.
func (st *Stack) Req(t testing.TB, body string, extra ...[2]string) *envoyhost.Request {
	h := envoyhost.Pairs{{"content-type", "application/json"}, {"x-firmly-authorization", ValidToken(t)}, {"x-request-id", "req-1"}}
	return &envoyhost.Request{Method: "POST", Path: TransferPath, Authority: "api.firmly.test", Headers: append(h, extra...), Body: []byte(body)}
}

// Do sends r through the stack and waits for the callouts it started.
func (st *Stack) Do(t testing.TB, r *envoyhost.Request) *envoyhost.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := st.Host.Do(ctx, r)
	if err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, st.Host.LogText())
	}
	// Every callout has been delivered before the stream answered, except
	// after a failure; wait so "nothing was written" is final.
	st.Host.WaitCallouts(ctx)
	return resp
}

// APIError is the module's error body.
type APIError struct {
	Code        int    `json:"code"`
	Error       string `json:"error"`
	Description string `json:"description"`
	Message     string `json:"message"`
}

// DecodeError decodes an error answer and checks that its code, message and content type agree.
func DecodeError(t *testing.T, resp *envoyhost.Response) APIError {
	t.Helper()
	var e APIError
	if err := json.Unmarshal(resp.Body, &e); err != nil {
		t.Fatalf("error body %q: %v", resp.Body, err)
	}
	if e.Code != resp.Status || e.Message != e.Description || resp.Header("content-type") != "application/json" {
		t.Errorf("inconsistent error %+v for status %d (content-type %q)", e, resp.Status, resp.Header("content-type"))
	}
	return e
}

// TLSTo trusts a TLS test service's certificate.
func TLSTo(s *Service, serverName string) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.Srv.Certificate())
	// httptest certificates name example.com; accept them for any SNI.
	return &tls.Config{RootCAs: pool, ServerName: "example.com"}
}

// PluginWasm is the product plugin: $PLUGIN_WASM when set (./build.sh test sets
// it), else built once per test binary.
func PluginWasm(t testing.TB) []byte { return wasmbuild.ForTest(t, wasmbuild.PluginPackage) }

// ObjectBody is a transfer body with an object handle and cookies.
const ObjectBody = `{"handle":{"handle":"cart-12345","token":"9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b"},"cookies":["form_key=XyZ","PHPSESSID=abc123"]}`

// CartOf decodes a 200 answer's cart.
func CartOf(t *testing.T, resp *envoyhost.Response) map[string]any {
	t.Helper()
	if resp.Status != 200 {
		t.Fatalf("got %d %s", resp.Status, resp.Body)
	}
	var c map[string]any
	if err := json.Unmarshal(resp.Body, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestContext is a context of 20 seconds, cancelled when the test ends.
func TestContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// FailInline makes dispatches to a cluster fail inline, with no callback.
func FailInline(cluster string) func(*envoyhost.Config) {
	return func(c *envoyhost.Config) {
		cl := c.Clusters[cluster]
		cl.FailInline = true
		c.Clusters[cluster] = cl
	}
}

// WantStatus checks the status and, unless errName is "", the error name of an answer.
func WantStatus(t *testing.T, resp *envoyhost.Response, status int, errName string) APIError {
	t.Helper()
	if resp.Status != status {
		t.Fatalf("got %d %s, want %d %s", resp.Status, resp.Body, status, errName)
	}
	if errName == "" {
		return APIError{}
	}
	e := DecodeError(t, resp)
	if e.Error != errName {
		t.Fatalf("got error %s (%s), want %s", e.Error, e.Description, errName)
	}
	return e
}

// DelegatedPluginConfig is the harness's configuration in delegated mode:
// no key, the payload where jwt_authn puts it.
func DelegatedPluginConfig(extraAuth string) string {
	return fmt.Sprintf(`{
  "auth": {"verified_payload": {"key": "payload", "failed_status_key": "failed_status"},
           "allowed_app_ids": ["app-1", "app-2"]%s},
  "session_key": {"secret": %q},
  "merchants": {
    %q: {"cluster": "merchant_luma", "display_name": "Luma Store", "platform_id": "magento",
      "headers": {"x-merchant-key": "mk-1"}, "payment_method_options": [{"type": "CreditCard", "wallet": "user"}]}
  },
  "backend": {"cluster": "session_backend", "authority": "sessions.internal", "headers": {"x-backend-key": "bk-1"}}
}`, extraAuth, TestSecret, TestDomain)
}

// NamedWasm is a module to compare against the current one in a benchmark.
type NamedWasm struct {
	Name string
	Wasm []byte
}

// BaselineModules reads the modules listed in the environment variable env
// as "name=path,..." (a bare path is named "baseline"), for benchmarks that
// time older builds beside the current one.
func BaselineModules(tb testing.TB, env string) []NamedWasm {
	tb.Helper()
	var out []NamedWasm
	list := os.Getenv(env)
	if list == "" {
		return nil
	}
	for _, item := range strings.Split(list, ",") {
		name, path, ok := strings.Cut(item, "=")
		if !ok {
			name, path = "baseline", item
		}
		w, err := os.ReadFile(path)
		if err != nil {
			tb.Fatalf("%s: %v", env, err)
		}
		out = append(out, NamedWasm{name, w})
	}
	return out
}

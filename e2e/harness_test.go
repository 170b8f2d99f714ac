package e2e

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cristalhq/jwt/v4"

	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

const (
	testDomain     = "staging.luma.gift"
	testSecret     = "test-secret-0123456789abcdef0123456789abcdef"
	testHS256      = "hs256-secret-0123456789abcdef0123456789"
	stringHandle   = "3f1c2a9e-7b4d-4e8a-9c2f-5d6e7f8a9b0c"
	stringHandleSK = "b4d3fb9f5b284e7b67e310e72b2a3ebbfaed01cfdf73f02536c33dd570a6fdc4"
	objectHandleSK = "7334bc9c2523ac4eb5483fde762c2e48fd3dd7c9bfd543ec16dc505d34047b1f"
	transferPath   = "/api/v2/domains/staging.luma.gift/session/transfer"
)

// keys are generated once per test binary.
var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
)

func testKeys(t testing.TB) (*rsa.PrivateKey, *ecdsa.PrivateKey) {
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

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jwks(t testing.TB) string {
	r, e := testKeys(t)
	pad := func(b []byte) []byte { return append(make([]byte, 32-len(b)), b...) }
	return fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"rsa-1","alg":"RS256","use":"sig","n":%q,"e":%q},`+
		`{"kty":"EC","kid":"ec-1","crv":"P-256","x":%q,"y":%q}]}`,
		b64u(r.N.Bytes()), b64u(big.NewInt(int64(r.E)).Bytes()), b64u(pad(e.X.Bytes())), b64u(pad(e.Y.Bytes())))
}

// token signs claims; alg is RS256, ES256 or HS256.
func token(t testing.TB, alg, kid string, claims map[string]any) string {
	r, e := testKeys(t)
	var signer jwt.Signer
	var err error
	switch alg {
	case "RS256":
		signer, err = jwt.NewSignerRS(jwt.RS256, r)
	case "ES256":
		signer, err = jwt.NewSignerES(jwt.ES256, e)
	case "HS256":
		signer, err = jwt.NewSignerHS(jwt.HS256, []byte(testHS256))
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

func deviceClaims() map[string]any {
	return map[string]any{"device_id": "dev-123", "app_id": "app-1", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
}

func validToken(t testing.TB) string { return token(t, "RS256", "rsa-1", deviceClaims()) }

// recorded is one request a test service received.
type recorded struct {
	Method, Path string
	Header       http.Header
	Body         string
}

// service is a test HTTP service with a programmable answer.
type service struct {
	mu      sync.Mutex
	calls   []recorded
	handler http.HandlerFunc
	srv     *httptest.Server
}

func newService(t testing.TB, tlsOn bool) *service {
	s := &service{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.calls = append(s.calls, recorded{r.Method, r.URL.RequestURI(), r.Header.Clone(), string(b)})
		h := s.handler
		s.mu.Unlock()
		if h != nil {
			h(w, r)
		}
	})
	if tlsOn {
		s.srv = httptest.NewTLSServer(h)
	} else {
		s.srv = httptest.NewServer(h)
	}
	t.Cleanup(s.srv.Close)
	return s
}

func (s *service) answer(status int, body string) {
	s.set(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
}

func (s *service) set(h http.HandlerFunc) {
	s.mu.Lock()
	s.handler = h
	s.mu.Unlock()
}

func (s *service) received() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.calls...)
}

func (s *service) addr() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.srv.URL, "http://"), "https://")
}

// stack is the plugin in the host, with a merchant, a backend and an app
// upstream behind it.
type stack struct {
	host     *envoyhost.Host
	merchant *service
	backend  *service
	app      *service
}

const lumaCart = `{"cart":{"platform_id":"magento","currency":"USD","line_items":[` +
	`{"platform_line_item_id":"0","sku":"MH07-XS-Gray","base_sku":"MH07","variant_id":"v-1","description":"Hero Hoodie",` +
	`"variant_description":"Gray / XS","quantity":2,"unit_price":5400,"msrp":6400,` +
	`"image":{"url":"https://img.example/mh07.jpg","alt":"Hero Hoodie"},"requires_shipping":true,"available_quantity":10},` +
	`{"platform_line_item_id":"1","sku":"GIFT-CARD","description":"Gift card","quantity":1,"unit_price":2500,` +
	`"requires_shipping":false,"available_quantity":100}],"shipping_total":500,"tax_total":864,"coupons":["WELCOME"]}}`

func pluginConfig(t testing.TB, o stackOpts) string {
	if o.merchantTimeoutMs == 0 {
		o.merchantTimeoutMs = 2000
	}
	if o.backendTimeoutMs == 0 {
		o.backendTimeoutMs = 2000
	}
	cfg := fmt.Sprintf(`{
  "auth": {"jwks": %s, "hs256_secret": %q, "allowed_app_ids": ["app-1", "app-2"]},
  "session_key": {"secret": %q},
  "merchants": {
    %q: {"cluster": "merchant_luma", "display_name": "Luma Store", "platform_id": "magento", "timeout_ms": %d,
      "headers": {"x-merchant-key": "mk-1"}, "payment_method_options": [{"type": "CreditCard", "wallet": "user"}]}
  },
  "backend": {"cluster": "session_backend", "authority": "sessions.internal", "timeout_ms": %d, "headers": {"x-backend-key": "bk-1"}}%s
}`, jwks(t), testHS256, testSecret, testDomain, o.merchantTimeoutMs, o.backendTimeoutMs, o.extraConfig)
	return cfg
}

type stackOpts struct {
	extraConfig       string // appended inside the top-level object, starting with a comma
	merchantTimeoutMs int
	backendTimeoutMs  int
	hostConfig        func(*envoyhost.Config)
	wasm              []byte // default: the product plugin
	pluginConfig      string // replaces the whole plugin configuration when set
}

func newStack(t testing.TB, o stackOpts) *stack {
	t.Helper()
	st := &stack{merchant: newService(t, false), backend: newService(t, false), app: newService(t, false)}
	st.merchant.answer(200, lumaCart)
	st.backend.answer(201, `{"ok":true}`)
	st.app.set(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("app")) })
	pc := o.pluginConfig
	if pc == "" {
		pc = pluginConfig(t, o)
	}
	cfg := envoyhost.Config{
		PluginConfig: []byte(pc),
		Clusters: map[string]envoyhost.Cluster{
			"merchant_luma":   {Addr: st.merchant.addr()},
			"session_backend": {Addr: st.backend.addr()},
			"app":             {Addr: st.app.addr()},
		},
		Routes: []envoyhost.Route{{Prefix: "/", Cluster: "app"}},
	}
	if o.hostConfig != nil {
		o.hostConfig(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wasm := o.wasm
	if wasm == nil {
		wasm = pluginWasm(t)
	}
	h, err := envoyhost.Start(ctx, wasm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	st.host = h
	return st
}

// req builds a transfer request with a valid token and JSON content type.
func (st *stack) req(t testing.TB, body string, extra ...[2]string) *envoyhost.Request {
	h := envoyhost.Pairs{{"content-type", "application/json"}, {"x-firmly-authorization", validToken(t)}, {"x-request-id", "req-1"}}
	return &envoyhost.Request{Method: "POST", Path: transferPath, Authority: "api.firmly.test", Headers: append(h, extra...), Body: []byte(body)}
}

func (st *stack) do(t testing.TB, r *envoyhost.Request) *envoyhost.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := st.host.Do(ctx, r)
	if err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, st.host.LogText())
	}
	// Every callout has been delivered before the stream answered, except
	// after a failure; wait so "nothing was written" is final.
	st.host.WaitCallouts(ctx)
	return resp
}

type apiError struct {
	Code        int    `json:"code"`
	Error       string `json:"error"`
	Description string `json:"description"`
	Message     string `json:"message"`
}

func decodeError(t *testing.T, resp *envoyhost.Response) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(resp.Body, &e); err != nil {
		t.Fatalf("error body %q: %v", resp.Body, err)
	}
	if e.Code != resp.Status || e.Message != e.Description || resp.Header("content-type") != "application/json" {
		t.Errorf("inconsistent error %+v for status %d (content-type %q)", e, resp.Status, resp.Header("content-type"))
	}
	return e
}

func tlsTo(s *service, serverName string) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate())
	// httptest certificates name example.com; accept them for any SNI.
	return &tls.Config{RootCAs: pool, ServerName: "example.com"}
}

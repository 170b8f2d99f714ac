// Package transfer is the state machine of one session transfer. It is pure:
// the plugin feeds it the request headers, the body, and the two callout
// answers, and carries out the Step it returns (pass through, wait for the
// body, dispatch a callout, or reply). Checks run in SPEC §2.1's order so each
// request gets one well-defined answer, and the session backend write is
// dispatched only after every check passed.
package transfer

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/firmly/session-transfer-filter/internal/apierror"
	"github.com/firmly/session-transfer-filter/internal/auth"
	"github.com/firmly/session-transfer-filter/internal/cart"
	"github.com/firmly/session-transfer-filter/internal/config"
	"github.com/firmly/session-transfer-filter/internal/merchant"
	"github.com/firmly/session-transfer-filter/internal/request"
	"github.com/firmly/session-transfer-filter/internal/sessionkey"
)

// Engine holds what every transfer shares: the configuration and the token
// verifier. The configuration is immutable; the verifier keeps the VM's
// token cache and remote keys, so an Engine belongs to one VM.
type Engine struct {
	cfg      *config.Config
	verifier *auth.Verifier
}

// New prepares an engine; an error names the configuration key at fault.
func New(cfg *config.Config) (*Engine, error) {
	v, err := auth.New(auth.Options{
		JWKS: cfg.Auth.JWKS, HS256Secret: cfg.Auth.HS256Secret,
		Leeway: time.Duration(cfg.Auth.LeewaySeconds) * time.Second,
		Issuer: cfg.Auth.Issuer, Audience: cfg.Auth.Audience, AllowedAppIDs: cfg.Auth.AllowedAppIDs,
		MaxTokenBytes: cfg.Auth.MaxTokenBytes, CacheEntries: cfg.Auth.TokenCacheEntries,
		RemoteJWKS: cfg.Auth.RemoteJWKS != nil,
	})
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, verifier: v}, nil
}

// Verifier is the token verifier, for the remote-JWKS fetcher to hand it
// new keys (auth.Verifier.SetRemoteKeys).
func (e *Engine) Verifier() *auth.Verifier { return e.verifier }

// Config is the engine's configuration.
func (e *Engine) Config() *config.Config { return e.cfg }

// StepKind says what the plugin must do next.
type StepKind int

const (
	// PassThrough: not a transfer; continue untouched.
	PassThrough StepKind = iota
	// AwaitBody: an accepted transfer; buffer the body (pausing on headers
	// only when configured to).
	AwaitBody
	// Dispatch: send Callout and wait for its answer.
	Dispatch
	// Reply: send Reply as a local response; the transfer is over.
	Reply
)

// Step is the next thing the plugin does.
type Step struct {
	Kind    StepKind
	Callout *Callout
	Reply   *Response
	// Merchant is the configured merchant's normalised domain when Start
	// refused a request after finding it ("" otherwise; once a Transfer
	// exists, its Domain is the merchant).
	Merchant string
	// TokenCache is what the verified-token cache did for this request.
	TokenCache auth.CacheOutcome
}

// Callout is an HTTP call through Envoy.
type Callout struct {
	Cluster   string
	Headers   [][2]string // pseudo-headers first
	Body      []byte
	TimeoutMs uint32
	// Export is true for the merchant session export, false for the
	// session backend write.
	Export bool
}

// Response is a local response.
type Response struct {
	Status  int
	Headers [][2]string
	Body    []byte
	// Error is the catalogue entry when the reply is an error.
	Error *apierror.Error
}

// Outcome is "transferred" or the error name (SPEC §2.9).
func (r *Response) Outcome() string {
	if r.Error == nil {
		return "transferred"
	}
	return r.Error.Kind.Name
}

type state int

const (
	awaitingBody state = iota
	awaitingMerchant
	awaitingBackend
	done
)

// Transfer is one transfer in progress.
type Transfer struct {
	e         *Engine
	state     state
	domain    string
	merchant  *config.Merchant
	claims    *auth.Claims
	requestID string
	key       string
	cartJSON  []byte
}

// The constant refusals are built once: answering one formats and
// allocates nothing. Their Response is shared and never modified.
var (
	replyAuthMissing     = unauthorized(apierror.New(apierror.MissingAuthHeader, "x-firmly-authorization header is missing"), true)
	replyAuthRepeated    = errorReply(apierror.New(apierror.MissingAuthHeader, "x-firmly-authorization header is repeated"))
	replyKeysUnavailable = errorReply(apierror.New(apierror.AuthUnavailable, "device-token keys are not available yet"))
	replyNotEnabled      = errorReply(apierror.New(apierror.CannotTransferSession, "merchant not enabled for session transfer"))
)

// The challenges of a 401 (RFC 6750 §3, SPEC §2.2): no error code when no
// token was sent, invalid_token for any other refusal. Never a description,
// claim or token fragment.
const (
	challengeMissing = `Bearer realm="session-transfer"`
	challengeInvalid = `Bearer realm="session-transfer", error="invalid_token"`
)

func errorReply(err *apierror.Error) Step {
	h := [][2]string{{"content-type", "application/json"}, {"cache-control", "no-store"}}
	switch err.Kind {
	case apierror.MethodNotAllowed:
		h = append(h, [2]string{"allow", "POST"})
	case apierror.MissingAuthHeader:
		h = append(h, [2]string{"www-authenticate", challengeInvalid})
	}
	return Step{Kind: Reply, Reply: &Response{Status: err.Kind.Status, Headers: h, Body: err.Body(), Error: err}}
}

// unauthorized is a 401 whose challenge says whether a token was sent.
func unauthorized(err *apierror.Error, missing bool) Step {
	s := errorReply(err)
	if missing {
		s.Reply.Headers[len(s.Reply.Headers)-1][1] = challengeMissing
	}
	return s
}

func (t *Transfer) fail(err *apierror.Error) Step {
	t.state = done
	return errorReply(err)
}

func values(h [][2]string, key string) []string {
	var out []string
	for _, kv := range h {
		if kv[0] == key {
			out = append(out, kv[1])
		}
	}
	return out
}

func first(h [][2]string, key string) string {
	for _, kv := range h {
		if kv[0] == key {
			return kv[1]
		}
	}
	return ""
}

// Start looks at the request headers (keys lower-case, pseudo-headers
// included, every value of repeated headers). A nil Transfer means the
// request is not a transfer, or was answered already.
func (e *Engine) Start(h [][2]string, now time.Time) (*Transfer, Step) {
	route, ok := request.MatchRoute(first(h, ":path"))
	if !ok {
		return nil, Step{Kind: PassThrough}
	}
	if route.Err != nil {
		// A would-be transfer path that cannot be read: first in SPEC
		// §2.1's order, so no spelling slips past the later checks.
		return nil, errorReply(route.Err)
	}
	switch method := first(h, ":method"); method {
	case "POST":
	case "OPTIONS":
		// A browser's CORS preflight: Envoy's CORS filter or the upstream answers.
		return nil, Step{Kind: PassThrough}
	default:
		return nil, errorReply(apierror.New(apierror.MethodNotAllowed, "method %s not allowed; use POST", method))
	}
	// Every value, not the first: the single-value hostcall would let a
	// second header slip by.
	authz := values(h, "x-firmly-authorization")
	switch {
	case len(authz) == 0 || strings.Trim(authz[0], " \t") == "":
		return nil, replyAuthMissing
	case len(authz) > 1:
		return nil, replyAuthRepeated
	}
	res := e.verifier.Verify(authz[0], now)
	switch {
	case res.Err != nil && res.Err.Unavailable:
		return nil, withCache(replyKeysUnavailable, res.Cache)
	case res.Err != nil:
		return nil, withCache(unauthorized(apierror.New(apierror.MissingAuthHeader, "invalid device token: %s", res.Err.Reason), res.Err.Missing), res.Cache)
	}
	t, step := e.afterAuth(h, route, res.Claims)
	step.TokenCache = res.Cache
	return t, step
}

func withCache(s Step, c auth.CacheOutcome) Step {
	s.TokenCache = c
	return s
}

// afterAuth runs the checks that follow authentication (SPEC §2.1's order).
func (e *Engine) afterAuth(h [][2]string, route request.Route, claims *auth.Claims) (*Transfer, Step) {
	domain, derr := request.NormalizeDomain(route.RawDomain)
	if derr != nil {
		return nil, errorReply(derr)
	}
	m := e.cfg.Merchants[domain]
	if m == nil {
		return nil, replyNotEnabled
	}
	if err := request.CheckContentType(values(h, "content-type")); err != nil {
		return nil, merchantReply(err, domain)
	}
	if cl := values(h, "content-length"); len(cl) == 1 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil && n > int64(e.cfg.Limits.MaxBodyBytes) {
			return nil, merchantReply(tooLarge(e.cfg.Limits.MaxBodyBytes), domain)
		}
	}
	// Forwarded only when well formed (SPEC §2.5); never repaired.
	rid, _ := request.RequestID(first(h, "x-request-id"))
	t := &Transfer{e: e, domain: domain, merchant: m, claims: claims, requestID: rid}
	return t, Step{Kind: AwaitBody}
}

// merchantReply is a refusal once the merchant is known.
func merchantReply(err *apierror.Error, domain string) Step {
	s := errorReply(err)
	s.Merchant = domain
	return s
}

func tooLarge(max int) *apierror.Error {
	return apierror.New(apierror.PayloadTooLarge, "body larger than %d bytes", max)
}

// Domain is the normalised domain of the transfer.
func (t *Transfer) Domain() string { return t.domain }

// SessionKey is the key, once the body was accepted.
func (t *Transfer) SessionKey() string { return t.key }

// MaxBodyBytes is the body limit: the plugin answers BodyTooLarge as soon as
// the buffered body passes it.
func (t *Transfer) MaxBodyBytes() int { return t.e.cfg.Limits.MaxBodyBytes }

// BodyTooLarge is the reply once the buffered body passes the limit.
func (t *Transfer) BodyTooLarge() Step { return t.fail(tooLarge(t.e.cfg.Limits.MaxBodyBytes)) }

// OnBody takes the whole request body and, if it is valid, asks for the
// merchant export callout.
func (t *Transfer) OnBody(body []byte) Step {
	if t.state != awaitingBody {
		return t.unexpected("body")
	}
	cfg := t.e.cfg
	if len(body) > cfg.Limits.MaxBodyBytes {
		return t.BodyTooLarge()
	}
	req, err := request.ParseBody(body, cfg.Handle)
	if err != nil {
		return t.fail(err)
	}
	t.key = sessionkey.Compute(cfg.SessionKey, sessionkey.Input{
		Domain: t.domain, ObjectHandle: req.ObjectHandle, Handle: req.Handle, Token: req.Token, Cookies: req.Cookies,
	})
	m := t.merchant
	h := [][2]string{
		{":method", "POST"}, {":path", m.ExportPath}, {":authority", m.Authority},
		{"content-type", "application/json"}, {"x-firmly-session-key", t.key},
	}
	if t.requestID != "" {
		h = append(h, [2]string{"x-request-id", t.requestID})
	}
	h = append(h, m.Headers...)
	t.state = awaitingMerchant
	return Step{Kind: Dispatch, Callout: &Callout{
		Cluster: m.Cluster, Headers: h, TimeoutMs: m.TimeoutMs, Export: true,
		Body: merchant.ExportRequestBody(t.domain, req.RawHandle, req.Cookies),
	}}
}

// OnMerchantResponse takes the export answer: status 0 for a reset,
// bodySize as announced (the body is not read when larger than the limit),
// and asks for the session backend write when every check passed.
func (t *Transfer) OnMerchantResponse(status int, body []byte, bodySize int, now time.Time) Step {
	if t.state != awaitingMerchant {
		return t.unexpected("merchant answer")
	}
	if err := merchant.CheckStatus(status); err != nil {
		return t.fail(err)
	}
	cfg := t.e.cfg
	if bodySize > cfg.Limits.MaxMerchantResponseBytes {
		return t.fail(apierror.New(apierror.InvalidMerchantResponse, "merchant cart: larger than %d bytes", cfg.Limits.MaxMerchantResponseBytes))
	}
	mc, err := merchant.ParseCart(body, merchant.Limits{MaxLineItems: cfg.Limits.MaxLineItems, MaxBodyBytes: cfg.Limits.MaxMerchantResponseBytes})
	if err != nil {
		return t.fail(err)
	}
	if err := merchant.CheckCart(mc); err != nil {
		return t.fail(err)
	}
	m := t.merchant
	v2, berr := cart.Build(cart.Input{
		SessionKey: t.key, Domain: t.domain, DisplayName: m.DisplayName, PlatformID: m.PlatformID,
		PaymentMethodOptions: m.PaymentMethodOptions, Cart: mc,
	})
	if berr != nil {
		return t.fail(apierror.New(apierror.InvalidMerchantResponse, "merchant cart: %v", berr))
	}
	// The cart is written once, into the record; the reply's body is that
	// part of the record (neither is modified afterwards).
	body, t.cartJSON = appendRecord(make([]byte, 0, 2560), record{t.key, t.claims.DeviceID, t.claims.AppID, t.domain, now.Unix()}, v2)
	b := t.e.cfg.Backend
	h := [][2]string{
		{":method", "PUT"}, {":path", b.PathPrefix + t.key}, {":authority", b.Authority},
		{"content-type", "application/json"}, {"idempotency-key", t.key},
		{"x-firmly-device-id", t.claims.DeviceID},
	}
	if t.requestID != "" {
		h = append(h, [2]string{"x-request-id", t.requestID})
	}
	h = append(h, b.Headers...)
	t.state = awaitingBackend
	return Step{Kind: Dispatch, Callout: &Callout{Cluster: b.Cluster, Headers: h, Body: body, TimeoutMs: b.TimeoutMs}}
}

// OnBackendResponse takes the write's status (0 for a reset) and answers
// the client: the cart on 200 or 201, else no cart at all.
func (t *Transfer) OnBackendResponse(status int) Step {
	if t.state != awaitingBackend {
		return t.unexpected("backend answer")
	}
	t.state = done
	if status != 200 && status != 201 {
		why := fmt.Sprintf("session store answered %d", status)
		if status == 0 {
			why = "session store connection reset"
		}
		return errorReply(apierror.New(apierror.SessionStoreUnavailable, "%s", why))
	}
	return Step{Kind: Reply, Reply: &Response{
		Status:  200,
		Headers: [][2]string{{"content-type", "application/json"}, {"cache-control", "no-store"}},
		Body:    t.cartJSON,
	}}
}

// DispatchFailed is an inline callout failure (no callback will come).
func (t *Transfer) DispatchFailed(err error) Step {
	switch t.state {
	case awaitingMerchant:
		return t.fail(apierror.New(apierror.StoreUnavailable, "merchant session export could not be dispatched"))
	case awaitingBackend:
		return t.fail(apierror.New(apierror.SessionStoreUnavailable, "session store write could not be dispatched"))
	}
	return t.unexpected("dispatch failure")
}

// Internal is the reply to a recovered panic.
func Internal() Step {
	return errorReply(apierror.New(apierror.Internal, "internal error"))
}

func (t *Transfer) unexpected(event string) Step {
	t.state = done
	return errorReply(apierror.New(apierror.Internal, "unexpected %s", event))
}

// CalloutBodyLimit is how much of the outstanding callout's answer body
// the plugin should read: the export answer's limit, or 0 for the backend
// write, whose body does not matter.
func (t *Transfer) CalloutBodyLimit() int {
	if t.state == awaitingMerchant {
		return t.e.cfg.Limits.MaxMerchantResponseBytes
	}
	return 0
}

// OnCalloutAnswer routes a callout answer to the step that awaits it.
func (t *Transfer) OnCalloutAnswer(status int, body []byte, bodySize int, now time.Time) Step {
	switch t.state {
	case awaitingMerchant:
		return t.OnMerchantResponse(status, body, bodySize, now)
	case awaitingBackend:
		return t.OnBackendResponse(status)
	}
	return t.unexpected("callout answer")
}

// Done reports whether the transfer has been answered.
func (t *Transfer) Done() bool { return t.state == done }

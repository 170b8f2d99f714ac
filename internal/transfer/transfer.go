// Package transfer is the state machine of one session transfer. It is pure:
// the plugin feeds it the request headers, the body, and the two callout
// answers, and carries out the Step it returns (pass through, wait for the
// body, dispatch a callout, or reply). Checks run in SPEC §2.1's order so each
// request gets one well-defined answer, and the session backend write is
// dispatched only after every check passed.
package transfer

import (
	"github.com/firmly/session-transfer-filter/internal/fmtlite"
	"strconv"
	"strings"
	"time"

	"github.com/firmly/session-transfer-filter/internal/apierror"
	"github.com/firmly/session-transfer-filter/internal/auth"
	"github.com/firmly/session-transfer-filter/internal/cart"
	"github.com/firmly/session-transfer-filter/internal/config"
	"github.com/firmly/session-transfer-filter/internal/headermap"
	"github.com/firmly/session-transfer-filter/internal/merchant"
	"github.com/firmly/session-transfer-filter/internal/request"
	"github.com/firmly/session-transfer-filter/internal/sessionkey"
	"github.com/firmly/session-transfer-filter/internal/tracecontext"
)

// Engine holds what every transfer shares: the configuration and the token
// verifier. The configuration is immutable; the verifier keeps the VM's
// token cache and remote keys, so an Engine belongs to one VM.
type Engine struct {
	cfg      *config.Config
	verifier *auth.Verifier
	metadata MetadataReader // auth.verified_payload only
	keyer    *sessionkey.Keyer
}

// New prepares an engine; an error names the configuration key at fault.
func New(cfg *config.Config) (*Engine, error) {
	v, err := auth.New(auth.Options{
		JWKS: cfg.Auth.JWKS, HS256Secret: cfg.Auth.HS256Secret,
		Leeway: time.Duration(cfg.Auth.LeewaySeconds) * time.Second,
		Issuer: cfg.Auth.Issuer, Audience: cfg.Auth.Audience, AllowedAppIDs: cfg.Auth.AllowedAppIDs,
		MaxTokenBytes: cfg.Auth.MaxTokenBytes, CacheEntries: cfg.Auth.TokenCacheEntries,
		RemoteJWKS: cfg.Auth.RemoteJWKS != nil, Delegated: cfg.Auth.VerifiedPayload != nil,
	})
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, verifier: v, keyer: sessionkey.NewKeyer(cfg.SessionKey)}, nil
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
	// Claims are the device's, once it is authenticated (whatever came
	// after); nil before.
	Claims *auth.Claims
	// UnknownKid: the reply is a 401 for a kid the loaded remote set
	// lacks; the plugin may hold the request for a refetch (SPEC §2.2b).
	UnknownKid bool
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

	headerMap headermap.Map // Headers serialised, when built once in advance
}

// HeaderMap is Headers in proxy-wasm's serialised form, as
// proxy_send_local_response takes them; an error's are serialised once
// for every reply.
func (r *Response) HeaderMap() headermap.Map {
	if r.headerMap != nil {
		return r.headerMap
	}
	return headermap.Serialize(r.Headers)
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
	trace     [][2]string // the client's well-formed trace headers, copied onto both callouts
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
	replyRefetchFailed   = errorReply(apierror.New(apierror.AuthUnavailable, "device-token keys could not be refreshed"))
)

// KeysUnavailable is the reply to a request that waited for a refetch of
// the remote JWKS that failed (SPEC §2.2b).
func KeysUnavailable() Step { return replyRefetchFailed }

// An error's headers, and with them serialised once: a 405 adds allow, a
// 401 its challenge.
var (
	errorHeaders          = [][2]string{{"content-type", "application/json"}, {"cache-control", "no-store"}}
	errorHeaderMap        = headermap.Serialize(errorHeaders)
	errorHeadersAllow     = withHeader(errorHeaders, "allow", "POST")
	errorHeaderMapAllow   = headermap.Serialize(errorHeadersAllow)
	errorHeadersInvalid   = withHeader(errorHeaders, "www-authenticate", challengeInvalid)
	errorHeaderMapInvalid = headermap.Serialize(errorHeadersInvalid)
	errorHeadersNoToken   = withHeader(errorHeaders, "www-authenticate", challengeMissing)
	errorHeaderMapNoToken = headermap.Serialize(errorHeadersNoToken)
)

// withHeader is h and one more header, in a slice of its own.
func withHeader(h [][2]string, name, value string) [][2]string {
	return append(h[:len(h):len(h)], [2]string{name, value})
}

// The challenges of a 401 (RFC 6750 §3, SPEC §2.2): no error code when no
// token was sent, invalid_token for any other refusal. Never a description,
// claim or token fragment.
const (
	challengeMissing = `Bearer realm="session-transfer"`
	challengeInvalid = `Bearer realm="session-transfer", error="invalid_token"`
)

func errorReply(err *apierror.Error) Step {
	h, hm := errorHeaders, errorHeaderMap
	switch err.Kind {
	case apierror.MethodNotAllowed:
		h, hm = errorHeadersAllow, errorHeaderMapAllow
	case apierror.MissingAuthHeader:
		h, hm = errorHeadersInvalid, errorHeaderMapInvalid
	}
	return Step{Kind: Reply, Reply: &Response{Status: err.Kind.Status, Headers: h, Body: err.Body(), Error: err, headerMap: hm}}
}

// unauthorized is a 401 whose challenge says whether a token was sent.
func unauthorized(err *apierror.Error, missing bool) Step {
	s := errorReply(err)
	if missing {
		s.Reply.Headers, s.Reply.headerMap = errorHeadersNoToken, errorHeaderMapNoToken
	}
	return s
}

func (t *Transfer) fail(err *apierror.Error) Step {
	t.state = done
	return errorReply(err)
}

// Start looks at the request headers (keys lower-case, pseudo-headers
// included, every value of repeated headers: a headermap.Map as the host
// serialised it, or headermap.Pairs). It reads only the names it decides
// on. A nil Transfer means the request is not a transfer, or was answered
// already.
func (e *Engine) Start(h headermap.Headers, now time.Time) (*Transfer, Step) {
	path, _ := h.Get(":path")
	route, ok := request.MatchRoute(path)
	if !ok {
		return nil, Step{Kind: PassThrough}
	}
	if route.Err != nil {
		// A would-be transfer path that cannot be read: first in SPEC
		// §2.1's order, so no spelling slips past the later checks.
		return nil, errorReply(route.Err)
	}
	switch method, _ := h.Get(":method"); method {
	case "POST":
	case "OPTIONS":
		// A browser's CORS preflight: Envoy's CORS filter or the upstream answers.
		return nil, Step{Kind: PassThrough}
	default:
		return nil, errorReply(apierror.New(apierror.MethodNotAllowed, "method %s not allowed; use POST", method))
	}
	// Every value, not the first: the single-value hostcall would let a
	// second header slip by.
	authz, n := h.Get("x-firmly-authorization")
	if e.cfg.Auth.VerifiedPayload != nil {
		return e.startDelegated(h, route, authz, n, now)
	}
	switch {
	case n == 0 || strings.Trim(authz, " \t") == "":
		return nil, replyAuthMissing
	case n > 1:
		return nil, replyAuthRepeated
	}
	res := e.verifier.Verify(authz, now)
	switch {
	case res.Err != nil && res.Err.Unavailable:
		return nil, withCache(replyKeysUnavailable, res.Cache)
	case res.Err != nil:
		s := withCache(unauthorized(apierror.New(apierror.MissingAuthHeader, "invalid device token: %s", res.Err.Reason), res.Err.Missing), res.Cache)
		s.UnknownKid = res.Err.UnknownKid
		return nil, s
	}
	t, step := e.afterAuth(h, route, res.Claims)
	step.TokenCache, step.Claims = res.Cache, res.Claims
	return t, step
}

func withCache(s Step, c auth.CacheOutcome) Step {
	s.TokenCache = c
	return s
}

// afterAuth runs the checks that follow authentication (SPEC §2.1's order).
func (e *Engine) afterAuth(h headermap.Headers, route request.Route, claims *auth.Claims) (*Transfer, Step) {
	domain, derr := request.NormalizeDomain(route.RawDomain)
	if derr != nil {
		return nil, errorReply(derr)
	}
	m := e.cfg.Merchants[domain]
	if m == nil {
		return nil, replyNotEnabled
	}
	// CheckContentType takes every value; only the first is read, and the
	// count.
	ct, n := h.Get("content-type")
	cts := make([]string, n)
	if n > 0 {
		cts[0] = ct
	}
	if err := request.CheckContentType(cts); err != nil {
		return nil, merchantReply(err, domain)
	}
	if cl, n := h.Get("content-length"); n == 1 {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > int64(e.cfg.Limits.MaxBodyBytes) {
			return nil, merchantReply(tooLarge(e.cfg.Limits.MaxBodyBytes), domain)
		}
	}
	// Forwarded only when well formed (SPEC §2.5); never repaired.
	requestID, _ := h.Get("x-request-id")
	rid, _ := request.RequestID(requestID)
	t := &Transfer{e: e, domain: domain, merchant: m, claims: claims, requestID: rid, trace: tracecontext.Pick(h)}
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

// Claims are the authenticated caller's claims.
func (t *Transfer) Claims() *auth.Claims { return t.claims }

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
	t.key = t.e.keyer.Key(sessionkey.Input{
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
	h = append(h, t.trace...)
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
	h = append(h, t.trace...)
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
		why := fmtlite.Sprintf("session store answered %d", status)
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

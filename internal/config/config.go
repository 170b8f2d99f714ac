// Package config reads the plugin configuration (SPEC §3) once, at plugin
// start. Parse is the only entry point: empty input is refused (a session
// key secret is always required); every error names the offending key.
package config

import (
	"github.com/firmly/session-transfer-filter/internal/fmtlite"

	"sort"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/firmly/session-transfer-filter/internal/request"
	"github.com/firmly/session-transfer-filter/internal/sessionkey"
)

// Config is the validated configuration.
type Config struct {
	Auth       Auth
	SessionKey []byte // the HMAC secret, at least 32 bytes
	Handle     request.Limits
	// PauseOnHeaders pauses transfers on request headers; only for Envoy
	// with allow_on_headers_stop_iteration: true (SPEC §2.1a).
	PauseOnHeaders bool
	Limits         Limits
	Merchants      map[string]*Merchant // by normalised domain
	Backend        Backend
}

// Auth is the device-token configuration.
type Auth struct {
	// JWKS is the raw JSON of auth.jwks; the auth package parses its keys.
	JWKS          []byte
	HS256Secret   []byte
	LeewaySeconds int64
	Issuer        string
	Audience      string
	AllowedAppIDs []string
	// MaxTokenBytes bounds the token, checked before any decoding.
	MaxTokenBytes int
	// TokenCacheEntries bounds the verified-token cache; 0 disables it.
	TokenCacheEntries int
	// RemoteJWKS is auth.remote_jwks; nil when not configured.
	RemoteJWKS *RemoteJWKS
	// VerifiedPayload is auth.verified_payload (SPEC §2.2c); nil when the
	// filter verifies tokens itself.
	VerifiedPayload *VerifiedPayload
}

// VerifiedPayload says where a filter before this one (Envoy's jwt_authn,
// Istio's RequestAuthentication) left the claims it verified: dynamic
// metadata <Namespace>.<Key>. FailedStatusKey, when set, is jwt_authn's
// failed_status_in_metadata key in the same namespace, so a refusal can name
// jwt_authn's reason.
type VerifiedPayload struct {
	Namespace       string
	Key             string
	FailedStatusKey string
}

// DefaultPayloadNamespace is the dynamic-metadata namespace jwt_authn writes.
const DefaultPayloadNamespace = "envoy.filters.http.jwt_authn"

// RemoteJWKS is where the device-token keys are fetched from (SPEC §2.2b).
type RemoteJWKS struct {
	Cluster        string
	Authority      string
	Path           string
	TimeoutMs      uint32
	RefreshSeconds int
	RetrySeconds   int
	// MinRefetchSeconds is the least time between the last fetch and one
	// that a token with an unknown kid causes; 0: an unknown kid never
	// causes a fetch.
	MinRefetchSeconds int
}

// Limits are the size limits.
type Limits struct {
	MaxBodyBytes             int
	MaxLineItems             int
	MaxMerchantResponseBytes int
}

// Merchant is one merchant enabled for session transfer.
type Merchant struct {
	Domain      string
	Cluster     string
	Authority   string
	ExportPath  string
	TimeoutMs   uint32
	DisplayName string
	PlatformID  string
	Headers     [][2]string // sorted by name
	// PaymentMethodOptions is the raw JSON array given in the configuration.
	PaymentMethodOptions string
}

// Backend is the session backend.
type Backend struct {
	Cluster    string
	Authority  string
	PathPrefix string
	TimeoutMs  uint32
	Headers    [][2]string
}

// Error is a configuration error naming its key.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string { return fmtlite.Sprintf("configuration key %q: %s", e.Key, e.Msg) }

func errf(key, format string, args ...any) *Error {
	return &Error{Key: key, Msg: fmtlite.Sprintf(format, args...)}
}

// Getenv looks up a VM environment variable.
type Getenv func(name string) (string, bool)

// Headers the filter sets itself; static headers may not override them.
var reservedHeaders = map[string]bool{
	"content-type": true, "content-length": true, "host": true, "transfer-encoding": true,
	"x-firmly-session-key": true, "x-request-id": true, "idempotency-key": true, "x-firmly-device-id": true,
	// The client's trace context (tracecontext.Names), copied onto both callouts.
	"traceparent": true, "tracestate": true, "b3": true, "x-b3-traceid": true, "x-b3-spanid": true,
	"x-b3-parentspanid": true, "x-b3-sampled": true, "x-b3-flags": true, "x-cloud-trace-context": true,
}

const maxTimeoutMs = 60_000

// Parse validates data and fills in defaults.
func Parse(data []byte, getenv Getenv) (*Config, error) {
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, errf("session_key.secret", "required: the configuration is empty")
	}
	if !gjson.ValidBytes(data) {
		return nil, errf("(root)", "not valid JSON")
	}
	root := gjson.ParseBytes(data)
	if !root.IsObject() {
		return nil, errf("(root)", "must be a JSON object")
	}
	p := &parser{getenv: getenv}
	c := &Config{}
	p.object(root, "", []string{"auth", "session_key", "handle", "stream", "limits", "merchants", "backend"})
	p.auth(root.Get("auth"), c)
	p.sessionKey(root.Get("session_key"), c)
	p.handle(root.Get("handle"), c)
	p.stream(root.Get("stream"), c)
	p.limits(root.Get("limits"), c)
	p.merchants(root.Get("merchants"), c)
	p.backend(root.Get("backend"), c)
	p.needKey(c)
	if p.err != nil {
		return nil, p.err
	}
	return c, nil
}

// parser keeps the first error; later checks are skipped once one exists.
type parser struct {
	getenv Getenv
	err    *Error
}

func (p *parser) fail(key, format string, args ...any) {
	if p.err == nil {
		p.err = errf(key, format, args...)
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// object checks v is an object (or absent) with only known keys.
func (p *parser) object(v gjson.Result, key string, known []string) bool {
	if !v.Exists() {
		return false
	}
	if !v.IsObject() {
		p.fail(orRoot(key), "must be an object")
		return false
	}
	seen := map[string]bool{}
	v.ForEach(func(k, _ gjson.Result) bool {
		if seen[k.Str] {
			p.fail(join(key, k.Str), "given twice")
			return false
		}
		seen[k.Str] = true
		for _, n := range known {
			if k.Str == n {
				return true
			}
		}
		p.fail(join(key, k.Str), "unknown key")
		return false
	})
	return true
}

func orRoot(k string) string {
	if k == "" {
		return "(root)"
	}
	return k
}

func (p *parser) str(v gjson.Result, key, def string) string {
	if !v.Exists() {
		return def
	}
	if v.Type != gjson.String {
		p.fail(key, "must be a string")
		return def
	}
	return v.Str
}

// maxNameBytes bounds every cluster name, authority, path and path prefix
// (SPEC §3).
const maxNameBytes = 256

// visible checks a cluster name, authority, path or path prefix: 1 to 256
// bytes of visible ASCII (0x21–0x7E), so no CR, LF, space or other control
// can reach a header or a log line. The value is never echoed.
func (p *parser) visible(key, s string) {
	if len(s) == 0 || len(s) > maxNameBytes {
		p.fail(key, "must be 1 to %d bytes", maxNameBytes)
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			p.fail(key, "must be visible ASCII: no spaces, CR, LF or other control characters")
			return
		}
	}
}

// name is a required cluster name.
func (p *parser) name(v gjson.Result, key string) string {
	s := p.str(v, key, "")
	if s == "" {
		p.fail(key, "required")
		return s
	}
	p.visible(key, s)
	return s
}

// authority is an authority whose default is derived; an explicit "" is
// refused like any other value that is not visible ASCII.
func (p *parser) authority(v gjson.Result, key, def string) string {
	s := p.nonEmpty(v, key, def)
	p.visible(key, s)
	return s
}

// nonEmpty is str for keys whose default is derived (an authority, a
// display name): an explicit "" would silently send an empty :authority or
// show an empty name, so it is refused rather than taken.
func (p *parser) nonEmpty(v gjson.Result, key, def string) string {
	s := p.str(v, key, def)
	if v.Exists() && v.Type == gjson.String && s == "" {
		p.fail(key, "must not be empty (leave it out for the default)")
		return def
	}
	return s
}

func (p *parser) integer(v gjson.Result, key string, def, min, max int64) int64 {
	if !v.Exists() {
		return def
	}
	if v.Type != gjson.Number || strings.ContainsAny(v.Raw, ".eE") {
		p.fail(key, "must be an integer")
		return def
	}
	n := v.Int()
	if n < min || n > max || v.Num != float64(n) {
		p.fail(key, "must be between %d and %d", min, max)
		return def
	}
	return n
}

func (p *parser) boolean(v gjson.Result, key string, def bool) bool {
	if !v.Exists() {
		return def
	}
	if !v.IsBool() {
		p.fail(key, "must be true or false")
		return def
	}
	return v.Bool()
}

// secret reads key or key_env; both at once is an error.
func (p *parser) secret(obj gjson.Result, prefix, name string) []byte {
	key, envKey := join(prefix, name), join(prefix, name+"_env")
	val := p.str(obj.Get(name), key, "")
	env := p.str(obj.Get(name+"_env"), envKey, "")
	switch {
	case val != "" && env != "":
		p.fail(envKey, "set together with %q; give one of them", key)
		return nil
	case env != "":
		s, ok := p.getenv(env)
		if !ok || s == "" {
			p.fail(envKey, "environment variable %q is not set in the VM", env)
			return nil
		}
		return []byte(s)
	}
	if val == "" {
		return nil
	}
	return []byte(val)
}

func (p *parser) auth(v gjson.Result, c *Config) {
	c.Auth.LeewaySeconds = 30
	c.Auth.JWKS = []byte(`{"keys":[]}`)
	c.Auth.MaxTokenBytes = 8192
	c.Auth.TokenCacheEntries = 1024
	if !p.object(v, "auth", []string{"jwks", "hs256_secret", "hs256_secret_env", "leeway_seconds", "issuer", "audience", "allowed_app_ids",
		"max_token_bytes", "token_cache_entries", "remote_jwks", "verified_payload"}) {
		return
	}
	if jwks := v.Get("jwks"); jwks.Exists() {
		if !jwks.IsObject() || !jwks.Get("keys").IsArray() {
			p.fail("auth.jwks", `must be an object {"keys": [...]}`)
		} else {
			c.Auth.JWKS = []byte(jwks.Raw)
		}
	}
	c.Auth.HS256Secret = p.secret(v, "auth", "hs256_secret")
	if c.Auth.HS256Secret != nil && len(c.Auth.HS256Secret) < 32 {
		p.fail("auth.hs256_secret", "must be at least 32 bytes")
	}
	c.Auth.LeewaySeconds = p.integer(v.Get("leeway_seconds"), "auth.leeway_seconds", 30, 0, 600)
	c.Auth.Issuer = p.str(v.Get("issuer"), "auth.issuer", "")
	c.Auth.Audience = p.str(v.Get("audience"), "auth.audience", "")
	if ids := v.Get("allowed_app_ids"); ids.Exists() {
		if !ids.IsArray() {
			p.fail("auth.allowed_app_ids", "must be an array of strings")
		}
		for i, id := range ids.Array() {
			if id.Type != gjson.String || id.Str == "" {
				p.fail(fmtlite.Sprintf("auth.allowed_app_ids[%d]", i), "must be a non-empty string")
			}
			c.Auth.AllowedAppIDs = append(c.Auth.AllowedAppIDs, id.Str)
		}
	}
	c.Auth.MaxTokenBytes = int(p.integer(v.Get("max_token_bytes"), "auth.max_token_bytes", 8192, 1024, 65536))
	c.Auth.TokenCacheEntries = int(p.integer(v.Get("token_cache_entries"), "auth.token_cache_entries", 1024, 0, 65536))
	if rj := v.Get("remote_jwks"); p.object(rj, "auth.remote_jwks", []string{"cluster", "authority", "path", "timeout_ms", "refresh_seconds", "retry_seconds", "min_refetch_seconds"}) {
		r := &RemoteJWKS{}
		r.Cluster = p.name(rj.Get("cluster"), "auth.remote_jwks.cluster")
		r.Authority = p.authority(rj.Get("authority"), "auth.remote_jwks.authority", r.Cluster)
		if !rj.Get("path").Exists() {
			p.fail("auth.remote_jwks.path", "required")
		}
		r.Path = p.path(rj.Get("path"), "auth.remote_jwks.path", "")
		r.TimeoutMs = uint32(p.integer(rj.Get("timeout_ms"), "auth.remote_jwks.timeout_ms", 2000, 1, maxTimeoutMs))
		r.RefreshSeconds = int(p.integer(rj.Get("refresh_seconds"), "auth.remote_jwks.refresh_seconds", 600, 30, 86400))
		r.RetrySeconds = int(p.integer(rj.Get("retry_seconds"), "auth.remote_jwks.retry_seconds", 5, 1, 3600))
		// 0 turns the refetch off; otherwise at least 5 s, so clients cannot
		// make the filter fetch more often than that.
		if r.MinRefetchSeconds = int(p.integer(rj.Get("min_refetch_seconds"), "auth.remote_jwks.min_refetch_seconds", 30, 0, 3600)); r.MinRefetchSeconds > 0 && r.MinRefetchSeconds < 5 {
			p.fail("auth.remote_jwks.min_refetch_seconds", "must be 0 or between 5 and 3600")
		}
		c.Auth.RemoteJWKS = r
	}
	p.verifiedPayload(v, c)
}

// verifiedPayload reads auth.verified_payload. In that mode the filter
// verifies nothing itself, so any key material or token-cache setting
// beside it would be a promise the filter does not keep: refused.
func (p *parser) verifiedPayload(auth gjson.Result, c *Config) {
	v := auth.Get("verified_payload")
	if !p.object(v, "auth.verified_payload", []string{"namespace", "key", "failed_status_key"}) {
		return
	}
	vp := &VerifiedPayload{
		Namespace:       p.nonEmpty(v.Get("namespace"), "auth.verified_payload.namespace", DefaultPayloadNamespace),
		Key:             p.str(v.Get("key"), "auth.verified_payload.key", ""),
		FailedStatusKey: p.nonEmpty(v.Get("failed_status_key"), "auth.verified_payload.failed_status_key", ""),
	}
	if vp.Key == "" {
		p.fail("auth.verified_payload.key", "required (jwt_authn's payload_in_metadata; Istio uses \"payload\")")
	}
	for _, f := range [...]struct{ key, val string }{
		{"auth.verified_payload.namespace", vp.Namespace}, {"auth.verified_payload.key", vp.Key},
		{"auth.verified_payload.failed_status_key", vp.FailedStatusKey},
	} {
		if f.val != "" && !metadataName(f.val, 256) {
			p.fail(f.key, "must be 1 to 256 bytes of visible ASCII")
		}
	}
	for _, k := range [...]string{"jwks", "hs256_secret", "hs256_secret_env", "remote_jwks", "token_cache_entries"} {
		if !auth.Get(k).Exists() {
			continue
		}
		if k == "jwks" && !auth.Get("jwks.keys.0").Exists() {
			continue // an empty key set promises nothing
		}
		p.fail("auth."+k, "cannot be used with auth.verified_payload: the filter before this one verifies the token")
	}
	c.Auth.VerifiedPayload = vp
}

func metadataName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// needKey refuses a configuration that could never verify a token; last,
// so an error in a key the operator did write is named first.
func (p *parser) needKey(c *Config) {
	if c.Auth.VerifiedPayload != nil {
		return
	}
	if c.Auth.RemoteJWKS == nil && c.Auth.HS256Secret == nil && !gjson.GetBytes(c.Auth.JWKS, "keys.0").Exists() {
		p.fail("auth.jwks", "no verification key: give auth.jwks keys, auth.remote_jwks or auth.hs256_secret")
	}
}

func (p *parser) sessionKey(v gjson.Result, c *Config) {
	p.object(v, "session_key", []string{"secret", "secret_env"})
	c.SessionKey = p.secret(v, "session_key", "secret")
	switch {
	case p.err != nil:
	case c.SessionKey == nil:
		p.fail("session_key.secret", "required: the plugin does not start without a session key secret")
	case len(c.SessionKey) < sessionkey.MinSecretBytes:
		p.fail("session_key.secret", "must be at least %d bytes", sessionkey.MinSecretBytes)
	}
}

func (p *parser) handle(v gjson.Result, c *Config) {
	p.object(v, "handle", []string{"min_length", "min_token_length"})
	c.Handle = request.DefaultLimits
	c.Handle.HandleMinLength = int(p.integer(v.Get("min_length"), "handle.min_length", 36, 1, 1024))
	c.Handle.TokenMinLength = int(p.integer(v.Get("min_token_length"), "handle.min_token_length", 36, 1, 4096))
}

func (p *parser) stream(v gjson.Result, c *Config) {
	p.object(v, "stream", []string{"pause_on_headers"})
	c.PauseOnHeaders = p.boolean(v.Get("pause_on_headers"), "stream.pause_on_headers", false)
}

func (p *parser) limits(v gjson.Result, c *Config) {
	p.object(v, "limits", []string{"max_body_bytes", "max_cookies", "max_line_items", "max_merchant_response_bytes"})
	c.Limits.MaxBodyBytes = int(p.integer(v.Get("max_body_bytes"), "limits.max_body_bytes", 65536, 1024, 1<<20))
	c.Handle.MaxCookies = int(p.integer(v.Get("max_cookies"), "limits.max_cookies", 64, 0, 1024))
	c.Limits.MaxLineItems = int(p.integer(v.Get("max_line_items"), "limits.max_line_items", 250, 1, 10000))
	c.Limits.MaxMerchantResponseBytes = int(p.integer(v.Get("max_merchant_response_bytes"), "limits.max_merchant_response_bytes", 1<<20, 1024, 16<<20))
}

func (p *parser) headers(v gjson.Result, key string) [][2]string {
	if !v.Exists() {
		return nil
	}
	if !v.IsObject() {
		p.fail(key, "must be an object of header names to values")
		return nil
	}
	var out [][2]string
	v.ForEach(func(k, val gjson.Result) bool {
		name := strings.ToLower(k.Str)
		hk := join(key, k.Str)
		switch {
		case name == "" || strings.HasPrefix(name, ":") || strings.ContainsAny(name, " \t\r\n:"):
			p.fail(hk, "not a valid header name")
		case reservedHeaders[name]:
			p.fail(hk, "set by the filter itself; it cannot be configured")
		case val.Type != gjson.String || strings.ContainsAny(val.Str, "\r\n\x00"):
			p.fail(hk, "must be a string without CR, LF or NUL")
		}
		out = append(out, [2]string{name, val.Str})
		return p.err == nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func (p *parser) path(v gjson.Result, key, def string) string {
	s := p.str(v, key, def)
	p.visible(key, s)
	if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, "?#") {
		p.fail(key, "must be an absolute path starting with '/', without '?' or '#'")
	}
	return s
}

func (p *parser) merchants(v gjson.Result, c *Config) {
	c.Merchants = map[string]*Merchant{}
	if !v.Exists() {
		return
	}
	if !v.IsObject() {
		p.fail("merchants", "must be an object keyed by domain")
		return
	}
	v.ForEach(func(k, mv gjson.Result) bool {
		key := "merchants." + k.Str
		domain, derr := request.NormalizeDomain(k.Str)
		switch {
		case derr != nil:
			p.fail(key, "not a valid domain")
		case domain != k.Str:
			p.fail(key, "write the domain normalised, as %q", domain)
		case c.Merchants[domain] != nil:
			p.fail(key, "given twice")
		}
		if p.err != nil {
			return false
		}
		p.object(mv, key, []string{"cluster", "authority", "export_path", "timeout_ms", "display_name", "platform_id", "headers", "payment_method_options"})
		m := &Merchant{Domain: domain}
		m.Cluster = p.name(mv.Get("cluster"), key+".cluster")
		m.Authority = p.authority(mv.Get("authority"), key+".authority", domain)
		m.ExportPath = p.path(mv.Get("export_path"), key+".export_path", "/firmly/session/export")
		m.TimeoutMs = uint32(p.integer(mv.Get("timeout_ms"), key+".timeout_ms", 2000, 1, maxTimeoutMs))
		m.DisplayName = p.nonEmpty(mv.Get("display_name"), key+".display_name", domain)
		m.PlatformID = p.str(mv.Get("platform_id"), key+".platform_id", "")
		m.Headers = p.headers(mv.Get("headers"), key+".headers")
		m.PaymentMethodOptions = "[]"
		if pmo := mv.Get("payment_method_options"); pmo.Exists() {
			if !pmo.IsArray() {
				p.fail(key+".payment_method_options", "must be an array")
			}
			m.PaymentMethodOptions = pmo.Raw
		}
		c.Merchants[domain] = m
		return p.err == nil
	})
}

func (p *parser) backend(v gjson.Result, c *Config) {
	if !p.object(v, "backend", []string{"cluster", "authority", "path_prefix", "timeout_ms", "headers"}) {
		p.fail("backend.cluster", "required: the session backend must be configured")
		return
	}
	b := &c.Backend
	b.Cluster = p.name(v.Get("cluster"), "backend.cluster")
	b.Authority = p.authority(v.Get("authority"), "backend.authority", b.Cluster)
	b.PathPrefix = p.path(v.Get("path_prefix"), "backend.path_prefix", "/v1/sessions/")
	b.TimeoutMs = uint32(p.integer(v.Get("timeout_ms"), "backend.timeout_ms", 2000, 1, maxTimeoutMs))
	b.Headers = p.headers(v.Get("headers"), "backend.headers")
}

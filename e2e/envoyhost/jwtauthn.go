package envoyhost

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"time"

	jwtauthnv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// JwtAuthn emulates Envoy's envoy.filters.http.jwt_authn placed before the
// Wasm filter, configured from its own API type: providers with local_jwks
// (inline_string) or remote_jwks (fetched from a cluster through the
// host), from_headers with value_prefix, forward, payload_in_metadata,
// failed_status_in_metadata, clock_skew_seconds, issuer and audiences; and
// requirements from rules (prefix or path match) or a route's
// requirement_name (per-route PerRouteConfig). A requirement is
// provider_name, allow_missing or allow_missing_or_failed.
//
// Verification is native (the standard library) and follows jwt_authn's
// order and its statuses (Envoy's source/common/jwt): parse, issuer, time
// with clock skew (default 60 s), audiences, then the key chosen by kid and
// alg. A refusal is jwt_authn's local reply: 401 (403 for audiences) with
// the status string as the body, www-authenticate `Bearer
// realm="<original URI>"` plus `, error="invalid_token"` unless the token
// is missing, and details jwt_authn_access_denied{<status with _>}.
// Only RS256 and ES256 signatures are checked (the keys this project
// ships); a token of another alg finds no key (JwksKidAlgMismatch).
type JwtAuthn struct {
	cfg       *jwtauthnv3.JwtAuthentication
	providers map[string]*jwtProvider
	order     []string // provider names, sorted, for allow_missing_or_failed
	now       func() time.Time
}

type jwtProvider struct {
	name string
	p    *jwtauthnv3.JwtProvider
	// The key set: local, or fetched from the remote JWKS and kept for its
	// cache_duration (default 600 s).
	mu      sync.Mutex
	keys    []jwk
	fetched time.Time
	local   bool
}

type jwk struct {
	kid, alg string
	rsa      *rsa.PublicKey
	ec       *ecdsa.PublicKey
}

// jwtStatus is jwt_verify_lib's Status; the value is the code
// failed_status_in_metadata carries.
type jwtStatus int

const (
	jwtOK                    jwtStatus = 0
	jwtMissed                jwtStatus = 1
	jwtNotYetValid           jwtStatus = 2
	jwtExpired               jwtStatus = 3
	jwtBadFormat             jwtStatus = 4
	jwtHeaderBadBase64       jwtStatus = 5
	jwtHeaderBadJSON         jwtStatus = 6
	jwtHeaderBadAlg          jwtStatus = 7
	jwtHeaderNotImplAlg      jwtStatus = 8
	jwtHeaderBadKid          jwtStatus = 9
	jwtPayloadBadBase64      jwtStatus = 10
	jwtPayloadBadJSON        jwtStatus = 11
	jwtIssNotString          jwtStatus = 12
	jwtSubNotString          jwtStatus = 13
	jwtIatNotInteger         jwtStatus = 14
	jwtIatOutOfRange         jwtStatus = 15
	jwtNbfNotInteger         jwtStatus = 16
	jwtNbfOutOfRange         jwtStatus = 17
	jwtExpNotInteger         jwtStatus = 18
	jwtExpOutOfRange         jwtStatus = 19
	jwtJtiNotString          jwtStatus = 20
	jwtAudNotString          jwtStatus = 21
	jwtSignatureBadBase64    jwtStatus = 22
	jwtUnknownIssuer         jwtStatus = 24
	jwtAudienceNotAllowed    jwtStatus = 25
	jwtVerificationFail      jwtStatus = 26
	jwksNoValidKeys          jwtStatus = 31
	jwksKidAlgMismatch       jwtStatus = 32
	jwksFetchFail            jwtStatus = 40
	defaultClockSkewSeconds            = 60
	defaultJWKSCacheDuration           = 600 * time.Second
)

var jwtStatusText = map[jwtStatus]string{
	jwtOK:                 "OK",
	jwtMissed:             "Jwt is missing",
	jwtNotYetValid:        "Jwt not yet valid",
	jwtExpired:            "Jwt is expired",
	jwtBadFormat:          "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
	jwtHeaderBadBase64:    "Jwt header is an invalid Base64url encoded",
	jwtHeaderBadJSON:      "Jwt header is an invalid JSON",
	jwtHeaderBadAlg:       "Jwt header [alg] field is required and must be a string",
	jwtHeaderNotImplAlg:   "Jwt header [alg] is not supported",
	jwtHeaderBadKid:       "Jwt header [kid] field is not a string",
	jwtPayloadBadBase64:   "Jwt payload is an invalid Base64url encoded",
	jwtPayloadBadJSON:     "Jwt payload is an invalid JSON",
	jwtIssNotString:       "Jwt payload [iss] field is not a string",
	jwtSubNotString:       "Jwt payload [sub] field is not a string",
	jwtIatNotInteger:      "Jwt payload [iat] field is not an integer",
	jwtIatOutOfRange:      "Jwt payload [iat] field is not a positive 64 bit integer",
	jwtNbfNotInteger:      "Jwt payload [nbf] field is not an integer",
	jwtNbfOutOfRange:      "Jwt payload [nbf] field is not a positive 64 bit integer",
	jwtExpNotInteger:      "Jwt payload [exp] field is not an integer",
	jwtExpOutOfRange:      "Jwt payload [exp] field is not a positive 64 bit integer",
	jwtJtiNotString:       "Jwt payload [jti] field is not a string",
	jwtAudNotString:       "Jwt payload [aud] field is not a string or string list",
	jwtSignatureBadBase64: "Jwt signature is an invalid Base64url encoded",
	jwtUnknownIssuer:      "Jwt issuer is not configured",
	jwtAudienceNotAllowed: "Audiences in Jwt are not allowed",
	jwtVerificationFail:   "Jwt verification fails",
	jwksNoValidKeys:       "Jwks doesn't have any valid public key",
	jwksKidAlgMismatch:    "Jwks doesn't have key to match kid or alg from Jwt",
	jwksFetchFail:         "Jwks remote fetch is failed",
}

func (s jwtStatus) String() string { return jwtStatusText[s] }

// jwtImplementedAlgs are the algs jwt_verify_lib knows; any other is
// JwtHeaderNotImplementedAlg.
var jwtImplementedAlgs = map[string]bool{
	"ES256": true, "ES384": true, "ES512": true, "HS256": true, "HS384": true, "HS512": true,
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true, "EdDSA": true,
}

// NewJwtAuthn checks the configuration as Envoy would and parses local
// key sets.
func NewJwtAuthn(cfg *jwtauthnv3.JwtAuthentication) (*JwtAuthn, error) {
	if err := cfg.ValidateAll(); err != nil {
		return nil, fmt.Errorf("jwt_authn: %w", err)
	}
	j := &JwtAuthn{cfg: cfg, providers: map[string]*jwtProvider{}, now: time.Now}
	for name, p := range cfg.GetProviders() {
		jp := &jwtProvider{name: name, p: p}
		if lj := p.GetLocalJwks(); lj != nil {
			keys, err := parseJWKS([]byte(lj.GetInlineString()))
			if err != nil {
				return nil, fmt.Errorf("jwt_authn: provider %s: local_jwks: %w", name, err)
			}
			jp.keys, jp.local = keys, true
		}
		j.providers[name] = jp
		j.order = append(j.order, name)
	}
	sortStrings(j.order)
	check := func(r *jwtauthnv3.JwtRequirement, where string) error {
		switch r.GetRequiresType().(type) {
		case *jwtauthnv3.JwtRequirement_ProviderName:
			if j.providers[r.GetProviderName()] == nil {
				return fmt.Errorf("jwt_authn: %s names unknown provider %q", where, r.GetProviderName())
			}
		case *jwtauthnv3.JwtRequirement_AllowMissing, *jwtauthnv3.JwtRequirement_AllowMissingOrFailed:
		default:
			return fmt.Errorf("jwt_authn: %s: the host emulates provider_name, allow_missing and allow_missing_or_failed only", where)
		}
		return nil
	}
	for name, r := range cfg.GetRequirementMap() {
		if err := check(r, "requirement_map "+name); err != nil {
			return nil, err
		}
	}
	for i, r := range cfg.GetRules() {
		if r.GetRequires() != nil {
			if err := check(r.GetRequires(), fmt.Sprintf("rules[%d]", i)); err != nil {
				return nil, err
			}
		} else if rn := r.GetRequirementName(); rn != "" && cfg.GetRequirementMap()[rn] == nil {
			return nil, fmt.Errorf("jwt_authn: rules[%d] names unknown requirement %q", i, rn)
		}
	}
	return j, nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for k := i; k > 0 && s[k] < s[k-1]; k-- {
			s[k], s[k-1] = s[k-1], s[k]
		}
	}
}

// SetClock replaces the filter's clock (tests).
func (j *JwtAuthn) SetClock(now func() time.Time) { j.now = now }

// jwtVerdict is what jwt_authn did with one request.
type jwtVerdict struct {
	headers  Pairs                       // the request headers it passes on
	metadata map[string]*structpb.Struct // filter_metadata it set, by namespace
	reply    *jwtReply                   // non-nil: it answered the request
}

type jwtReply struct {
	status          int
	body            string
	wwwAuthenticate string
	details         string
}

// jwtAuthnNamespace is the dynamic-metadata namespace jwt_authn writes.
const jwtAuthnNamespace = "envoy.filters.http.jwt_authn"

// requirement picks the requirement for a request: the route's
// requirement_name when it has one, else the first rule that matches.
func (j *JwtAuthn) requirement(route Route, routed bool, path string) *jwtauthnv3.JwtRequirement {
	if routed && route.JwtRequirement != "" {
		return j.cfg.GetRequirementMap()[route.JwtRequirement]
	}
	bare, _, _ := strings.Cut(path, "?")
	for _, r := range j.cfg.GetRules() {
		m := r.GetMatch()
		ok := false
		switch {
		case m.GetPrefix() != "":
			ok = strings.HasPrefix(bare, m.GetPrefix())
		case m.GetPath() != "":
			ok = bare == m.GetPath()
		}
		if !ok {
			continue
		}
		if r.GetRequires() != nil {
			return r.GetRequires()
		}
		return j.cfg.GetRequirementMap()[r.GetRequirementName()]
	}
	return nil
}

// decode is jwt_authn's decodeHeaders and everything it leads to.
func (j *JwtAuthn) decode(h *Host, headers Pairs) jwtVerdict {
	v := jwtVerdict{headers: headers}
	route, routed := h.route(firstValue(headers, ":path"))
	req := j.requirement(route, routed, firstValue(headers, ":path"))
	if req == nil {
		return v
	}
	var providers []*jwtProvider
	allowFailed, allowMissing := false, false
	switch req.GetRequiresType().(type) {
	case *jwtauthnv3.JwtRequirement_ProviderName:
		providers = []*jwtProvider{j.providers[req.GetProviderName()]}
	case *jwtauthnv3.JwtRequirement_AllowMissingOrFailed:
		allowFailed = true
	case *jwtauthnv3.JwtRequirement_AllowMissing:
		allowMissing = true
	}
	if providers == nil {
		for _, n := range j.order {
			providers = append(providers, j.providers[n])
		}
	}
	uri := originalURI(headers)
	type found struct {
		p      *jwtProvider
		header string
		token  string
	}
	var tokens []found
	for _, p := range providers {
		for _, fh := range p.p.GetFromHeaders() {
			name := strings.ToLower(fh.GetName())
			// Each header line is a token of its own, so every one must
			// verify: Envoy 1.38 and 1.40 refuse a good token followed by a
			// bad one with the bad one's status (realenvoy's "repeated
			// header" row), where joining the values would verify the first.
			for _, kv := range headers {
				if kv[0] != name {
					continue
				}
				val := kv[1]
				if pre := fh.GetValuePrefix(); pre != "" {
					pos := strings.Index(val, pre)
					if pos < 0 {
						continue
					}
					val = extractJWT(val, pos+len(pre))
				}
				tokens = append(tokens, found{p, name, val})
			}
		}
	}
	md := map[string]*structpb.Struct{}
	setData := func(key string, s *structpb.Struct) {
		ns := md[jwtAuthnNamespace]
		if ns == nil {
			ns = &structpb.Struct{Fields: map[string]*structpb.Value{}}
			md[jwtAuthnNamespace] = ns
		}
		ns.Fields[key] = structpb.NewStructValue(s)
	}
	failed := func(p *jwtProvider, st jwtStatus) {
		key := ""
		if p != nil {
			key = p.p.GetFailedStatusInMetadata()
		} else if len(j.providers) == 1 {
			key = j.providers[j.order[0]].p.GetFailedStatusInMetadata()
		}
		if key != "" {
			setData(key, &structpb.Struct{Fields: map[string]*structpb.Value{
				"code": structpb.NewNumberValue(float64(st)), "message": structpb.NewStringValue(st.String()),
			}})
		}
	}
	finish := func(st jwtStatus) jwtVerdict {
		if len(md) > 0 {
			v.metadata = md
		}
		if st == jwtOK {
			return v
		}
		code := 401
		if st == jwtAudienceNotAllowed {
			code = 403
		}
		www := `Bearer realm="` + uri + `"`
		if st != jwtMissed {
			www += `, error="invalid_token"`
		}
		v.reply = &jwtReply{status: code, body: st.String(), wwwAuthenticate: www,
			details: "jwt_authn_access_denied{" + strings.Join(strings.Fields(st.String()), "_") + "}"}
		return v
	}
	if len(tokens) == 0 {
		failed(nil, jwtMissed)
		if allowFailed || allowMissing {
			return finish(jwtOK)
		}
		return finish(jwtMissed)
	}
	// Every token must verify, unless failures are allowed; Envoy checks
	// them from the last extracted one.
	for i := len(tokens) - 1; i >= 0; i-- {
		t := tokens[i]
		p := t.p
		payload, st := j.verify(h, t.token, p, providers, allowFailed || allowMissing)
		if st != jwtOK {
			failed(p, st)
			if allowFailed {
				continue
			}
			return finish(st)
		}
		if pim := payload.p.p.GetPayloadInMetadata(); pim != "" {
			setData(pim, payload.claims)
		}
		if !payload.p.p.GetForward() {
			v.headers = removeKey(append(Pairs(nil), v.headers...), t.header)
		}
	}
	return finish(jwtOK)
}

// originalURI is Envoy's buildOriginalUri: scheme://host/path without the
// query, the path cut to 256 bytes.
func originalURI(h Pairs) string {
	scheme := firstValue(h, ":scheme")
	if scheme == "" {
		scheme = "http"
	}
	p, _, _ := strings.Cut(firstValue(h, ":path"), "?")
	if len(p) > 256 {
		p = p[:256]
	}
	return scheme + "://" + firstValue(h, ":authority") + p
}

const base64URLPlusDot = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

// extractJWT is jwt_authn's: skip to the first base64url-or-dot character
// after the prefix, take the run of them; no such character: the value as is.
func extractJWT(v string, after int) string {
	start := strings.IndexAny(v[after:], base64URLPlusDot)
	if start < 0 {
		return v
	}
	rest := v[after+start:]
	end := strings.IndexFunc(rest, func(r rune) bool { return !strings.ContainsRune(base64URLPlusDot, r) })
	if end < 0 {
		return rest
	}
	return rest[:end]
}

type verifiedJWT struct {
	p      *jwtProvider
	claims *structpb.Struct
}

// verify is the authenticator's startVerify through verifyKey for one token.
// With several candidate providers (allow_missing*), the token's iss picks
// the provider, as jwt_authn does.
func (j *JwtAuthn) verify(h *Host, token string, p *jwtProvider, candidates []*jwtProvider, byIssuer bool) (verifiedJWT, jwtStatus) {
	t, st := parseJWT(token)
	if st != jwtOK {
		return verifiedJWT{}, st
	}
	if byIssuer {
		p = nil
		for _, c := range candidates {
			if c.p.GetIssuer() == t.iss {
				p = c
				break
			}
		}
		if p == nil {
			for _, c := range candidates {
				if c.p.GetIssuer() == "" {
					p = c
					break
				}
			}
		}
		if p == nil {
			return verifiedJWT{}, jwtUnknownIssuer
		}
	} else if iss := p.p.GetIssuer(); iss != "" && iss != t.iss {
		return verifiedJWT{}, jwtUnknownIssuer
	}
	skew := uint64(defaultClockSkewSeconds)
	if s := p.p.GetClockSkewSeconds(); s > 0 {
		skew = uint64(s)
	}
	now := uint64(j.now().Unix())
	switch {
	case t.nbf > now+skew:
		return verifiedJWT{}, jwtNotYetValid
	case t.exp != 0 && now > t.exp+skew:
		return verifiedJWT{}, jwtExpired
	}
	if auds := p.p.GetAudiences(); len(auds) > 0 {
		ok := false
		for _, a := range auds {
			for _, ta := range t.aud {
				ok = ok || a == ta
			}
		}
		if !ok {
			return verifiedJWT{}, jwtAudienceNotAllowed
		}
	}
	keys, st := p.keySet(h, j.now())
	if st != jwtOK {
		return verifiedJWT{}, st
	}
	tried := false
	digest := sha256.Sum256([]byte(t.signingInput))
	for _, k := range keys {
		if t.kid != "" && k.kid != "" && k.kid != t.kid {
			continue
		}
		if k.alg != "" && k.alg != t.alg {
			continue
		}
		switch {
		case t.alg == "RS256" && k.rsa != nil:
			tried = true
			if rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, digest[:], t.sig) == nil {
				return verifiedJWT{p, t.claims}, jwtOK
			}
		case t.alg == "ES256" && k.ec != nil:
			tried = true
			if len(t.sig) == 64 && ecdsa.Verify(k.ec, digest[:], new(big.Int).SetBytes(t.sig[:32]), new(big.Int).SetBytes(t.sig[32:])) {
				return verifiedJWT{p, t.claims}, jwtOK
			}
		}
	}
	if tried {
		return verifiedJWT{}, jwtVerificationFail
	}
	return verifiedJWT{}, jwksKidAlgMismatch
}

type parsedJWT struct {
	signingInput  string
	alg, kid, iss string
	aud           []string
	exp, nbf      uint64
	sig           []byte
	claims        *structpb.Struct
}

// parseJWT is jwt_verify_lib's Jwt::parseFromString, status for status.
func parseJWT(tok string) (*parsedJWT, jwtStatus) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, jwtBadFormat
	}
	t := &parsedJWT{signingInput: parts[0] + "." + parts[1]}
	hdrRaw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, jwtHeaderBadBase64
	}
	var hdr map[string]any
	if strictJSON(hdrRaw) != nil || json.Unmarshal(hdrRaw, &hdr) != nil || hdr == nil {
		return nil, jwtHeaderBadJSON
	}
	alg, ok := hdr["alg"].(string)
	if !ok {
		return nil, jwtHeaderBadAlg
	}
	if !jwtImplementedAlgs[alg] {
		return nil, jwtHeaderNotImplAlg
	}
	t.alg = alg
	if k, present := hdr["kid"]; present {
		if t.kid, ok = k.(string); !ok {
			return nil, jwtHeaderBadKid
		}
	}
	plRaw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, jwtPayloadBadBase64
	}
	var pl map[string]any
	if strictJSON(plRaw) != nil || json.Unmarshal(plRaw, &pl) != nil || pl == nil {
		return nil, jwtPayloadBadJSON
	}
	if t.claims, err = structpb.NewStruct(pl); err != nil {
		return nil, jwtPayloadBadJSON
	}
	str := func(name string, bad jwtStatus) (string, jwtStatus) {
		v, present := pl[name]
		if !present {
			return "", jwtOK
		}
		s, ok := v.(string)
		if !ok {
			return "", bad
		}
		return s, jwtOK
	}
	var st jwtStatus
	if t.iss, st = str("iss", jwtIssNotString); st != jwtOK {
		return nil, st
	}
	if _, st := str("sub", jwtSubNotString); st != jwtOK {
		return nil, st
	}
	for _, d := range [...]struct {
		name            string
		out             *uint64
		notInt, outOfRg jwtStatus
	}{
		{"iat", new(uint64), jwtIatNotInteger, jwtIatOutOfRange},
		{"nbf", &t.nbf, jwtNbfNotInteger, jwtNbfOutOfRange},
		{"exp", &t.exp, jwtExpNotInteger, jwtExpOutOfRange},
	} {
		v, present := pl[d.name]
		if !present {
			continue
		}
		f, ok := v.(float64)
		if !ok {
			return nil, d.notInt
		}
		if f < 0 || f >= math.MaxUint64 || f != math.Trunc(f) {
			return nil, d.outOfRg
		}
		*d.out = uint64(f)
	}
	if _, st := str("jti", jwtJtiNotString); st != jwtOK {
		return nil, st
	}
	switch a := pl["aud"].(type) {
	case nil:
		if _, present := pl["aud"]; present {
			return nil, jwtAudNotString
		}
	case string:
		t.aud = []string{a}
	case []any:
		for _, x := range a {
			s, ok := x.(string)
			if !ok {
				return nil, jwtAudNotString
			}
			t.aud = append(t.aud, s)
		}
	default:
		return nil, jwtAudNotString
	}
	if t.sig, err = base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
		return nil, jwtSignatureBadBase64
	}
	return t, jwtOK
}

// keySet is the provider's keys: local, or the remote JWKS, fetched through
// the host's cluster when none is cached or the cache expired.
func (p *jwtProvider) keySet(h *Host, now time.Time) ([]jwk, jwtStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.local {
		if len(p.keys) == 0 {
			return nil, jwksNoValidKeys
		}
		return p.keys, jwtOK
	}
	rj := p.p.GetRemoteJwks()
	ttl := defaultJWKSCacheDuration
	if d := rj.GetCacheDuration(); d != nil {
		ttl = d.AsDuration()
	}
	if p.keys != nil && now.Sub(p.fetched) < ttl {
		return p.keys, jwtOK
	}
	body, err := h.fetchJWKS(rj.GetHttpUri().GetCluster(), rj.GetHttpUri().GetUri(), rj.GetHttpUri().GetTimeout().AsDuration())
	if err != nil {
		return nil, jwksFetchFail
	}
	keys, err := parseJWKS(body)
	if err != nil || len(keys) == 0 {
		return nil, jwksNoValidKeys
	}
	p.keys, p.fetched = keys, now
	return keys, jwtOK
}

// fetchJWKS GETs uri's path from cluster, as jwt_authn's JwksFetcher does.
func (h *Host) fetchJWKS(cluster, uri string, timeout time.Duration) ([]byte, error) {
	c, ok := h.cfg.Clusters[cluster]
	if !ok {
		return nil, fmt.Errorf("no cluster %q", cluster)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	type result struct {
		r   *rawResponse
		err error
	}
	ch := make(chan result, 1)
	startUpstream(c, Pairs{{":method", "GET"}, {":path", u.RequestURI()}, {":authority", u.Host}}, nil, true, timeout, nil,
		func(r *rawResponse, err error) { ch <- result{r, err} })
	res := <-ch
	if res.err != nil {
		return nil, res.err
	}
	if s := firstValue(res.r.headers, ":status"); s != "200" {
		return nil, fmt.Errorf("JWKS answered %s", s)
	}
	return res.r.body, nil
}

// parseJWKS takes the RSA and P-256 EC keys of a JWKS; others are skipped.
func parseJWKS(raw []byte) ([]jwk, error) {
	var set struct {
		Keys []struct {
			Kty, Kid, Alg, N, E, Crv, X, Y string
		} `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, err
	}
	var out []jwk
	b := func(s string) *big.Int {
		d, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			return nil
		}
		return new(big.Int).SetBytes(d)
	}
	for _, k := range set.Keys {
		switch k.Kty {
		case "RSA":
			n, e := b(k.N), b(k.E)
			if n == nil || e == nil || !e.IsInt64() {
				continue
			}
			out = append(out, jwk{kid: k.Kid, alg: k.Alg, rsa: &rsa.PublicKey{N: n, E: int(e.Int64())}})
		case "EC":
			x, y := b(k.X), b(k.Y)
			if k.Crv != "P-256" || x == nil || y == nil {
				continue
			}
			alg := k.Alg
			if alg == "" {
				alg = "ES256"
			}
			out = append(out, jwk{kid: k.Kid, alg: alg, ec: &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no RSA or P-256 key")
	}
	return out, nil
}

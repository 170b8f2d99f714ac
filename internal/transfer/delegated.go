package transfer

import (
	"strings"
	"time"

	"github.com/firmly/session-transfer-filter/internal/apierror"
	"github.com/firmly/session-transfer-filter/internal/headermap"
	"github.com/firmly/session-transfer-filter/internal/request"
)

// MetadataReader reads the request's dynamic metadata under the configured
// namespace (auth.verified_payload.namespace): path[0] is a key of that
// namespace, the rest walks into its value. The plugin serves it with
// proxy_get_property; found is false on NotFound.
type MetadataReader func(path []string) (value []byte, found bool, err error)

// SetMetadataReader gives a delegated-mode engine its way to the request's
// dynamic metadata; it is called during Start, on the request's context.
func (e *Engine) SetMetadataReader(r MetadataReader) { e.metadata = r }

// The realm of every 401's www-authenticate (RFC 6750 §3). Never a
// description, claim or token fragment in it.
var (
	replyNotVerified = unauthorized(apierror.New(apierror.MissingAuthHeader, "invalid device token: not verified"), false)
)

// maxUpstreamReason bounds the jwt_authn reason quoted in a description.
const maxUpstreamReason = 256

// startDelegated authenticates from the payload a filter before this one
// verified (SPEC §2.2c). The header is not parsed; the header-map rule (a
// repeated header is 401) still holds, and the header decides the
// challenge when there is no payload.
func (e *Engine) startDelegated(h headermap.Headers, route request.Route, authz string, n int, now time.Time) (*Transfer, Step) {
	if n > 1 {
		return nil, replyAuthRepeated
	}
	tokenSent := n == 1 && trimmedToken(authz)
	vp := e.cfg.Auth.VerifiedPayload
	read := e.metadata
	if read == nil {
		// No way to the metadata is no payload: fail closed.
		read = func([]string) ([]byte, bool, error) { return nil, false, nil }
	}
	res := e.verifier.VerifyPayload(func(path []string) ([]byte, bool, error) {
		full := make([]string, 0, 1+len(path))
		return read(append(append(full, vp.Key), path...))
	}, now)
	switch {
	case res.Err != nil && res.Err.NoPayload && !tokenSent:
		return nil, replyAuthMissing
	case res.Err != nil && res.Err.NoPayload:
		if why := e.upstreamReason(read); why != "" {
			return nil, unauthorized(apierror.New(apierror.MissingAuthHeader, "invalid device token: jwt_authn: %s", why), false)
		}
		return nil, replyNotVerified
	case res.Err != nil:
		return nil, unauthorized(apierror.New(apierror.MissingAuthHeader, "invalid device token: %s", res.Err.Reason), false)
	}
	t, step := e.afterAuth(h, route, res.Claims)
	step.Claims = res.Claims
	return t, step
}

// upstreamReason is the message jwt_authn left under its
// failed_status_in_metadata key ({"code": <number>, "message": <string>}),
// cut and made printable; "" when none is configured or present.
func (e *Engine) upstreamReason(read MetadataReader) string {
	key := e.cfg.Auth.VerifiedPayload.FailedStatusKey
	if key == "" {
		return ""
	}
	msg, found, err := read([]string{key, "message"})
	if err != nil || !found {
		return ""
	}
	return printableCut(msg, maxUpstreamReason)
}

// printableCut keeps printable ASCII and writes '?' for any other byte, so
// the reason is safe in a description and in a log line.
func printableCut(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}

// trimmedToken: the header holds something besides spaces, tabs and a bare
// "Bearer" prefix (SPEC §2.2: a bare prefix is empty).
func trimmedToken(v string) bool {
	t := strings.Trim(v, " \t")
	if len(t) >= 6 && strings.EqualFold(t[:6], "bearer") && (len(t) == 6 || t[6] == ' ' || t[6] == '\t') {
		t = strings.Trim(t[6:], " \t")
	}
	return t != ""
}

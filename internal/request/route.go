// Package request validates a Session Transfer request: its route, method,
// domain, content type and body (SPEC §2.1–§2.3). It is pure Go: bytes and
// strings in, values and *apierror.Error out.
package request

import (
	"net/url"
	"strings"

	"github.com/firmly/session-transfer-filter/internal/apierror"
)

// Route is a request path recognised as the transfer endpoint.
type Route struct {
	// RawDomain is the {domain} segment as it appeared in the path.
	RawDomain string
}

// MatchRoute reports whether path is POST-able transfer endpoint:
// /api/v1|v2/domains/{domain}/session/transfer, with the query ignored and
// one trailing slash tolerated.
func MatchRoute(path string) (Route, bool) {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	path = strings.TrimSuffix(path, "/")
	rest, ok := strings.CutPrefix(path, "/api/v2/domains/")
	if !ok {
		rest, ok = strings.CutPrefix(path, "/api/v1/domains/")
	}
	if !ok {
		return Route{}, false
	}
	domain, ok := strings.CutSuffix(rest, "/session/transfer")
	if !ok || strings.Contains(domain, "/") {
		return Route{}, false
	}
	return Route{RawDomain: domain}, true
}

// NormalizeDomain percent-decodes and lower-cases the {domain} segment,
// checks it is a DNS host name (labels of [a-z0-9-], 1–63 characters, not
// starting or ending with '-', 253 in all, no trailing dot), then drops a
// leading "www.".
func NormalizeDomain(raw string) (string, *apierror.Error) {
	bad := func(why string) *apierror.Error {
		return apierror.New(apierror.InvalidInputBody, "domain: %s", why)
	}
	d, err := url.PathUnescape(raw)
	if err != nil {
		return "", bad("invalid percent-encoding")
	}
	d = strings.ToLower(d)
	switch {
	case d == "":
		return "", bad("must not be empty")
	case len(d) > 253:
		return "", bad("longer than 253 characters")
	case strings.HasSuffix(d, "."):
		return "", bad("must not end with a dot")
	}
	for _, label := range strings.Split(d, ".") {
		if len(label) == 0 || len(label) > 63 {
			return "", bad("each label must be 1 to 63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", bad("a label must not start or end with '-'")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", bad("not a valid host name")
			}
		}
	}
	if d == "www" {
		return "", bad("not a valid host name")
	}
	d = strings.TrimPrefix(d, "www.")
	return d, nil
}

// CheckContentType accepts application/json with any parameters.
func CheckContentType(values []string) *apierror.Error {
	if len(values) != 1 {
		if len(values) == 0 {
			return apierror.New(apierror.InvalidInputBody, "content-type: must be application/json")
		}
		return apierror.New(apierror.InvalidInputBody, "content-type: must be given once")
	}
	// The media type before any parameters, case-insensitive. (Package mime
	// would link file-system calls that Envoy 1.33 does not provide.)
	mt, _, _ := strings.Cut(values[0], ";")
	if !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		return apierror.New(apierror.InvalidInputBody, "content-type: must be application/json")
	}
	return nil
}

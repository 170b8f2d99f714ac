package envoyhost

import "strings"

// What the HTTP connection manager does to :path before it picks a route,
// as Envoy's ConnectionManagerUtility::maybeNormalizePath does it
// (source/common/http/conn_manager_utility.cc): a fragment is refused;
// path_with_escaped_slashes_action acts on %2F and %5C; normalize_path runs
// the Chromium path canonicaliser Envoy embeds (PathUtil::canonicalPath);
// merge_slashes runs last (PathUtil::mergeSlashes). Only the part before the
// first '?' is touched.

// EscapedSlashesAction is the connection manager's
// path_with_escaped_slashes_action.
type EscapedSlashesAction int

const (
	// EscapedSlashesKeepUnchanged leaves %2F and %5C alone (Envoy's
	// default, IMPLEMENTATION_SPECIFIC_DEFAULT, is this unless a runtime
	// override says otherwise).
	EscapedSlashesKeepUnchanged EscapedSlashesAction = iota
	// EscapedSlashesRejectRequest answers 400 to a path with %2F or %5C.
	EscapedSlashesRejectRequest
	// EscapedSlashesUnescapeAndRedirect unescapes them and answers 307 with
	// the normalised path in location.
	EscapedSlashesUnescapeAndRedirect
	// EscapedSlashesUnescapeAndForward unescapes them and carries on.
	EscapedSlashesUnescapeAndForward
)

// PathNormalization is the connection manager's path settings.
type PathNormalization struct {
	NormalizePath  bool // normalize_path
	MergeSlashes   bool // merge_slashes
	EscapedSlashes EscapedSlashesAction
}

// PathAction is what the connection manager does with a request once its
// path was normalised.
type PathAction int

const (
	// PathContinue routes the request with the normalised path.
	PathContinue PathAction = iota
	// PathReject answers 400, details path_normalization_failed.
	PathReject
	// PathRedirect answers 307 with location: the normalised path, details
	// path_normalization_failed.
	PathRedirect
)

func (a PathAction) String() string {
	switch a {
	case PathReject:
		return "reject"
	case PathRedirect:
		return "redirect"
	}
	return "continue"
}

// pathNormalizationFailed is Envoy's response code details for both the 400
// and the 307 (StreamInfo::ResponseCodeDetails::PathNormalizationFailed).
const pathNormalizationFailed = "path_normalization_failed"

// Apply normalises a :path value and says what the connection manager does
// next. The path it returns is :path afterwards: what the route match and
// every filter see, the redirect's location, and for a refused request what
// the access log shows (Envoy rewrites :path step by step, so a refusal
// keeps the steps done before it).
func (n PathNormalization) Apply(path string) (string, PathAction) {
	// Envoy refuses a fragment in :path whatever the settings
	// (envoy.reloadable_features.http_reject_path_with_fragment, on by default).
	if strings.Contains(path, "#") {
		return path, PathReject
	}
	action := PathContinue
	if n.EscapedSlashes != EscapedSlashesKeepUnchanged {
		if unescaped, found := unescapeSlashes(path); found {
			path = unescaped
			switch n.EscapedSlashes {
			case EscapedSlashesRejectRequest:
				return path, PathReject
			case EscapedSlashesUnescapeAndRedirect:
				action = PathRedirect
			}
		}
	}
	if n.NormalizePath {
		canonical, ok := canonicalizePathAndQuery(path)
		if !ok {
			return path, PathReject
		}
		path = canonical
	}
	if n.MergeSlashes {
		path = mergeSlashes(path)
	}
	return path, action
}

func splitQuery(p string) (path, query string) {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

// unescapeSlashes is PathUtil::unescapeSlashes: %2F and %5C (either case)
// in the path become / and \. It reports whether it changed anything.
func unescapeSlashes(p string) (string, bool) {
	path, query := splitQuery(p)
	if !strings.Contains(path, "%") {
		return p, false
	}
	out := strings.NewReplacer("%2F", "/", "%2f", "/", "%5C", `\`, "%5c", `\`).Replace(path)
	return out + query, out != path
}

// mergeSlashes is PathTransformer::mergeSlashes: runs of / in the path
// become one, keeping a leading and a trailing slash. Envoy's own quirk is
// kept: a path of only slashes ("//") comes out as "//".
func mergeSlashes(p string) string {
	path, query := splitQuery(p)
	if !strings.Contains(path, "//") {
		return p
	}
	var segs []string
	for _, s := range strings.Split(path, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	prefix, suffix := "", ""
	if strings.HasPrefix(path, "/") {
		prefix = "/"
	}
	if strings.HasSuffix(path, "/") {
		suffix = "/"
	}
	return prefix + strings.Join(segs, "/") + suffix + query
}

// canonicalizePathAndQuery is PathTransformer::rfcNormalize: the path
// before '?' is canonicalised, the query is kept as it is.
func canonicalizePathAndQuery(p string) (string, bool) {
	path, query := splitQuery(p)
	out, ok := canonicalizePath(path)
	return out + query, ok
}

// How the Chromium canonicaliser treats each byte of a path
// (url_canon_path.cc's kPathCharLookup, as Envoy's copy has it).
const (
	charPass     = 0
	charSpecial  = 1 // needs more than a copy
	charEscape   = 2 | charSpecial
	charUnescape = 4 // an escape of it is decoded
	charInvalid  = 8 | charSpecial
)

var pathCharFlags = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		switch {
		case c == 0:
			// Envoy's canonicaliser refuses NUL, raw or %00 (its
			// path_utility_test InvalidPaths).
			t[c] = charInvalid
		case c < 0x20 || c >= 0x7f:
			t[c] = charEscape
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '~':
			t[c] = charUnescape
		case c == '.':
			t[c] = charSpecial
		case strings.IndexByte(" \"#%<>?\\^`{|}", byte(c)) >= 0:
			t[c] = charEscape
		default: // ! $ & ' ( ) * + , / : ; = @ [ ]
			t[c] = charPass
		}
	}
	return t
}()

func isURLSlash(c byte) bool { return c == '/' || c == '\\' }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// decodeEscaped reads %XX at s[i].
func decodeEscaped(s []byte, i int) (byte, bool) {
	if i+3 > len(s) || s[i] != '%' || !isHex(s[i+1]) || !isHex(s[i+2]) {
		return 0, false
	}
	return unhex(s[i+1])<<4 | unhex(s[i+2]), true
}

// dotLen is the length of a dot at s[i]: 1 for ".", 3 for "%2e"/"%2E".
func dotLen(s string, i int) int {
	if s[i] == '.' {
		return 1
	}
	if s[i] == '%' && i+3 <= len(s) && s[i+1] == '2' && (s[i+2] == 'e' || s[i+2] == 'E') {
		return 3
	}
	return 0
}

type dotKind int

const (
	dotInName dotKind = iota
	dotCurrent
	dotParent
)

// classifyAfterDot looks at what follows a dot that starts a segment and
// returns its meaning and how many more bytes it consumes.
func classifyAfterDot(s string, after int) (dotKind, int) {
	if after == len(s) {
		return dotCurrent, 0
	}
	if isURLSlash(s[after]) {
		return dotCurrent, 1
	}
	if n := dotLen(s, after); n > 0 {
		next := after + n
		if next == len(s) {
			return dotParent, n
		}
		if isURLSlash(s[next]) {
			return dotParent, n + 1
		}
	}
	return dotInName, 0
}

// backUpToPreviousSlash drops the last segment of out, which ends in '/',
// never above the first slash.
func backUpToPreviousSlash(out []byte) []byte {
	i := len(out) - 1
	if i == 0 {
		return out
	}
	for i--; out[i] != '/' && i > 0; i-- {
	}
	return out[:i+1]
}

func appendEscaped(out []byte, c byte) []byte {
	const hex = "0123456789ABCDEF"
	return append(out, '%', hex[c>>4], hex[c&15])
}

// checkNestedEscapes keeps a decoded escape from completing an escape with
// an earlier stray '%' ("%%30" must not become "%0" and later "%00"): that
// '%' is written "%25" instead (Chromium's CheckForNestedEscapes).
func checkNestedEscapes(s string, next, lastInvalidPercent int, out []byte) []byte {
	length := len(out)
	lastUnescaped := out[length-1]
	appendNext := lastInvalidPercent == length-2
	if appendNext {
		if next == len(s) || s[next] >= 0x80 {
			return out
		}
		out = append(out, s[next])
	}
	if _, ok := decodeEscaped(out, lastInvalidPercent); ok {
		if !appendNext {
			out = append(out, out[lastInvalidPercent+1])
		}
		out[lastInvalidPercent+1], out[lastInvalidPercent+2] = '2', '5'
		return append(out, lastUnescaped)
	}
	if appendNext {
		out = out[:length]
	}
	return out
}

// canonicalizePath is the Chromium path canonicaliser Envoy runs for
// normalize_path (url::CanonicalizePath): it decodes escapes of letters,
// digits and -._~, reads \ as /, resolves . and .. segments (also written
// %2E), escapes controls, spaces, non-ASCII bytes and a few characters, and
// keeps every other escape, %2F and %5C among them, as written. It never
// merges slashes. ok is false for a NUL, raw or escaped.
func canonicalizePath(s string) (string, bool) {
	if s == "" {
		return "/", true
	}
	out := make([]byte, 0, len(s)+1)
	if !isURLSlash(s[0]) {
		out = append(out, '/')
	}
	ok := true
	lastInvalidPercent := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		flags := pathCharFlags[c]
		if flags&charSpecial == 0 {
			out = append(out, c)
			continue
		}
		if n := dotLen(s, i); n > 0 {
			if len(out) > 0 && out[len(out)-1] == '/' {
				kind, consumed := classifyAfterDot(s, i+n)
				switch kind {
				case dotInName:
					out = append(out, '.')
					i += n - 1
				case dotCurrent:
					i += n + consumed - 1
				case dotParent:
					out = backUpToPreviousSlash(out)
					if lastInvalidPercent >= len(out) {
						lastInvalidPercent = -1
					}
					i += n + consumed - 1
				}
			} else {
				out = append(out, '.')
				i += n - 1
			}
			continue
		}
		switch {
		case c == '\\':
			out = append(out, '/')
		case c == '%':
			v, valid := decodeEscaped([]byte(s[i:min(i+3, len(s))]), 0)
			if !valid {
				// A stray '%' passes through, remembered for
				// checkNestedEscapes.
				lastInvalidPercent = len(out)
				out = append(out, '%')
				continue
			}
			vf := pathCharFlags[v]
			if vf&charUnescape != 0 {
				out = append(out, v)
				i += 2
				if lastInvalidPercent >= 0 && lastInvalidPercent >= len(out)-3 {
					out = checkNestedEscapes(s, i+1, lastInvalidPercent, out)
				}
				continue
			}
			// Kept as written, hex case included.
			out = append(out, '%', s[i+1], s[i+2])
			i += 2
			if vf&charInvalid == charInvalid {
				ok = false
			}
		case flags&charInvalid == charInvalid:
			out = appendEscaped(out, c)
			ok = false
		default:
			out = appendEscaped(out, c)
		}
	}
	return string(out), ok
}

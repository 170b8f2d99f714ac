package envoyhost

// HardenedPath is the path settings of the repository's envoy.yaml:
// normalize_path, merge_slashes and path_with_escaped_slashes_action
// UNESCAPE_AND_REDIRECT.
var HardenedPath = PathNormalization{NormalizePath: true, MergeSlashes: true, EscapedSlashes: EscapedSlashesUnescapeAndRedirect}

// TransferPath is the canonical transfer path of envoy.yaml's merchant.
const TransferPath = "/api/v2/domains/staging.luma.gift/session/transfer"

// PathSpelling is one way to write a request path and what a connection
// manager with HardenedPath does with it. The table is shared: the host's
// tests check the host against it, and a test with a real Envoy and the
// shipped envoy.yaml can send the same spellings and expect the same.
type PathSpelling struct {
	Name string
	// Path is the request-target as sent.
	Path string
	// Action is what the connection manager does.
	Action PathAction
	// Want is :path afterwards: what the route match and every filter see
	// (PathContinue), the location of the 307 (PathRedirect), or what the
	// access log shows of a refused request (PathReject).
	Want string
	// Transfer is true when Want is matched by envoy.yaml's transfer route
	// (a redirect's location included), so the filter runs on it.
	Transfer bool
	// RawOnly marks a spelling Go's net/http server refuses (400) before
	// the host sees it: send it on a raw connection to a real Envoy, or
	// through Stream, not through Host.ServeHTTP.
	RawOnly bool
}

// TransferPathSpellings are the spellings of issue 17 and their outcome
// under HardenedPath, each following Envoy's own code
// (ConnectionManagerUtility::maybeNormalizePath and the Chromium path
// canonicaliser it runs).
var TransferPathSpellings = []PathSpelling{
	{Name: "canonical", Path: TransferPath, Want: TransferPath, Transfer: true},
	{Name: "trailing slash", Path: TransferPath + "/", Want: TransferPath + "/", Transfer: true},
	{Name: "query kept as sent", Path: TransferPath + "?a=..//%2F", Want: TransferPath + "?a=..//%2F", Transfer: true},
	{Name: "escaped letter", Path: "/api/v2/domains/staging.luma.gift/session/%74ransfer", Want: TransferPath, Transfer: true},
	{Name: "escaped letters, upper-case hex", Path: "/%61pi/v2/domains/staging.luma.gift/session/transfe%72", Want: TransferPath, Transfer: true},
	{Name: "escaped digit", Path: "/api/v%32/domains/staging.luma.gif%74/session/transfer", Want: TransferPath, Transfer: true},
	{Name: "escaped dot inside a name", Path: "/api/v2/domains/staging%2Eluma.gift/session/transfer", Want: TransferPath, Transfer: true},
	{Name: "dot segment", Path: "/api/v2/domains/staging.luma.gift/session/./transfer", Want: TransferPath, Transfer: true},
	{Name: "escaped dot segment", Path: "/api/v2/domains/staging.luma.gift/session/%2e/transfer", Want: TransferPath, Transfer: true},
	{Name: "dot-dot segment", Path: "/api/v2/x/../domains/staging.luma.gift/session/transfer", Want: TransferPath, Transfer: true},
	{Name: "escaped dot-dot segment", Path: "/api/v2/x/%2E%2e/domains/staging.luma.gift/session/transfer", Want: TransferPath, Transfer: true},
	{Name: "dot-dot above the root", Path: "/../../api/v2/domains/staging.luma.gift/session/transfer", Want: TransferPath, Transfer: true},
	{Name: "leading double slash", Path: "//api/v2/domains/staging.luma.gift/session/transfer", Want: TransferPath, Transfer: true},
	{Name: "doubled slashes", Path: "/api//v2///domains/staging.luma.gift//session//transfer", Want: TransferPath, Transfer: true},
	{Name: "backslashes", Path: `/api\v2\domains\staging.luma.gift\session\transfer`, Want: TransferPath, Transfer: true},
	{Name: "dot segment and slashes together", Path: "/api/v2/domains/staging.luma.gift/session/.//./transfer", Want: TransferPath, Transfer: true},
	// Envoy keeps the case; the transfer route matches case-insensitively.
	{Name: "upper case", Path: "/API/V2/DOMAINS/staging.luma.gift/Session/Transfer", Want: "/API/V2/DOMAINS/staging.luma.gift/Session/Transfer", Transfer: true},
	{Name: "escaped slash redirects", Path: "/api/v2/domains/staging.luma.gift/session%2Ftransfer", Action: PathRedirect, Want: TransferPath, Transfer: true},
	{Name: "escaped slash, lower case, redirects", Path: "/api%2fv2/domains/staging.luma.gift/session/transfer", Action: PathRedirect, Want: TransferPath, Transfer: true},
	{Name: "escaped backslash redirects", Path: "/api/v2/domains/staging.luma.gift/session%5Ctransfer", Action: PathRedirect, Want: TransferPath, Transfer: true},
	{Name: "redirect keeps the query", Path: "/api/v2/domains/staging.luma.gift/session%2F%2Ftransfer?x=1", Action: PathRedirect, Want: TransferPath + "?x=1", Transfer: true},
	{Name: "escaped NUL is refused", Path: "/api/v2/domains/staging.luma.gift/session/transfer%00", Action: PathReject, Want: "/api/v2/domains/staging.luma.gift/session/transfer%00"},
	{Name: "escaped NUL in a dot segment is refused", Path: "/api/v2/domains/staging.luma.gift/session/.%00./transfer", Action: PathReject, Want: "/api/v2/domains/staging.luma.gift/session/.%00./transfer"},
	{Name: "fragment is refused", Path: TransferPath + "#x", Action: PathReject, Want: TransferPath + "#x"},
	// Kept as sent: not a transfer for the route, so the filter does not
	// run; the filter's own canonical matching (its second line of
	// defence) answers such a path 400 where it does run.
	{Name: "malformed escape passes", Path: "/api/v2/domains/staging.luma.gift/session/tr%zzansfer", Want: "/api/v2/domains/staging.luma.gift/session/tr%zzansfer", RawOnly: true},
	{Name: "escaped reserved character kept", Path: "/api/v2/domains/staging.luma.gift/session/transfer%3B", Want: "/api/v2/domains/staging.luma.gift/session/transfer%3B"},
	{Name: "space escaped", Path: "/api/v2/domains/staging.luma.gift/session/trans%20fer", Want: "/api/v2/domains/staging.luma.gift/session/trans%20fer"},
}

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// userDocs are the documents a user reads from the repository alone.
func userDocs(t *testing.T) []string {
	t.Helper()
	docs, _ := filepath.Glob("../docs/*.md")
	return append([]string{"../README.md", "../CHANGELOG.md", "istio/README.md"}, docs...)
}

var (
	fence    = regexp.MustCompile("(?ms)^```.*?^```")
	mdLink   = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)
	heading  = regexp.MustCompile(`(?m)^#{1,6}\s+(.+)$`)
	slugDrop = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
)

// githubSlug is the anchor GitHub gives a heading.
func githubSlug(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	return strings.ReplaceAll(slugDrop.ReplaceAllString(h, ""), " ", "-")
}

func anchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(fence.ReplaceAllString(md, ""), -1) {
		out[githubSlug(m[1])] = true
	}
	return out
}

// Every relative link in the user documents resolves to a file in this
// repository (and a #fragment to a heading of a Markdown target); no link
// leaves the repository, and nothing points at documents that are not in it.
func TestDocLinksResolveInsideTheRepository(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range userDocs(t) {
		raw, err := os.ReadFile(doc)
		if err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		text := string(raw)
		name, _ := filepath.Rel(root, mustAbs(t, doc))
		for _, forbidden := range []string{"SPEC §", "SPEC.md", "shared/", "reference/proxy-wasm-envoy.md", "firmly-api.md"} {
			if strings.Contains(text, forbidden) {
				t.Errorf("%s mentions %q, which is not in the repository", name, forbidden)
			}
		}
		links := mdLink.FindAllStringSubmatch(fence.ReplaceAllString(text, ""), -1)
		for _, m := range links {
			target := m[1]
			if regexp.MustCompile(`^[a-z][a-z0-9+.-]*:`).MatchString(target) {
				t.Errorf("%s: link %s leaves the repository", name, target)
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			path := mustAbs(t, doc)
			if file != "" {
				path = filepath.Join(filepath.Dir(mustAbs(t, doc)), filepath.FromSlash(file))
			}
			if rel, err := filepath.Rel(root, path); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s: link %s points outside the repository", name, target)
				continue
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s: link %s: no such file in the repository", name, target)
				continue
			}
			if frag != "" && strings.HasSuffix(path, ".md") {
				md, _ := os.ReadFile(path)
				if !anchors(string(md))[frag] {
					t.Errorf("%s: link %s: no heading with anchor #%s", name, target, frag)
				}
			}
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestGitHubSlugMatchesGitHubAnchors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Quick start", "quick-start"},
		{"`auth.remote_jwks`", "authremote_jwks"},
		{"Try it against the reference merchant", "try-it-against-the-reference-merchant"},
		{"200: the session is valid; here is its cart", "200-the-session-is-valid-here-is-its-cart"},
	} {
		if got := githubSlug(tc.in); got != tc.want {
			t.Errorf("githubSlug(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

package kittest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
)

// userDocs are the documents a user reads from the repository alone.
func userDocs(t *testing.T) []string {
	t.Helper()
	docs, _ := filepath.Glob("../docs/*.md")
	return append([]string{"../README.md", "../CHANGELOG.md", "istio/README.md", "envoy-gateway/README.md"}, docs...)
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

type docStep struct {
	cmd  string
	want []string
}

// consoleSteps reads the console blocks of a document's "## Try it"
// section: each "$ " line (with its \-continued lines) is a command, the
// lines after it what it prints.
func consoleSteps(t *testing.T, md string) []docStep {
	t.Helper()
	_, section, ok := strings.Cut(md, "\n## Try it")
	if !ok {
		t.Fatal("no ## Try it section")
	}
	var steps []docStep
	for _, block := range regexp.MustCompile("(?s)```console\n(.*?)```").FindAllStringSubmatch(section, -1) {
		cont := false
		for _, line := range strings.Split(strings.TrimRight(block[1], "\n"), "\n") {
			switch {
			case cont:
				steps[len(steps)-1].cmd += "\n" + line
			case strings.HasPrefix(line, "$ "):
				steps = append(steps, docStep{cmd: strings.TrimPrefix(line, "$ ")})
			case len(steps) > 0:
				steps[len(steps)-1].want = append(steps[len(steps)-1].want, line)
			}
			cont = strings.HasSuffix(line, `\`)
		}
	}
	if len(steps) == 0 {
		t.Fatal("no console commands in the ## Try it section")
	}
	return steps
}

// lineMatches compares a shown line with a printed one; "..." in the shown
// line elides any text.
func lineMatches(want, got string) bool {
	parts := strings.Split(want, "...")
	if len(parts) == 1 {
		return want == got
	}
	if !strings.HasPrefix(got, parts[0]) || !strings.HasSuffix(got, parts[len(parts)-1]) {
		return false
	}
	rest := got[len(parts[0]):]
	for _, p := range parts[1:] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	return true
}

// The contracts' "Try it" examples are real: their commands run against the
// local stack's reference services print what the documents show (headers
// the documents leave out are allowed in between).
func TestDocExamplesPrintWhatTheyShow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack: skipped with -short")
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the examples need %s", tool)
		}
	}
	st := e2etest.StartLocal(t)
	root, _ := filepath.Abs("..")
	for _, doc := range []string{"docs/merchant-export.md", "docs/session-backend.md"} {
		t.Run(doc, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(root, doc))
			if err != nil {
				t.Fatal(err)
			}
			steps := consoleSteps(t, string(raw))
			var script strings.Builder
			for i, s := range steps {
				cmd := strings.NewReplacer("https://localhost:8443", st.MerchantURL, "https://localhost:9443", st.BackendURL).Replace(s.cmd)
				fmt.Fprintf(&script, "echo '<<<step %d>>>'\n%s\necho\n", i, cmd)
			}
			c := exec.Command("bash", "-c", script.String())
			c.Dir = root
			out, err := c.CombinedOutput()
			if err != nil {
				t.Fatalf("the examples failed: %v\n%s", err, out)
			}
			printed := regexp.MustCompile(`(?m)^<<<step \d+>>>\n`).Split(string(out), -1)[1:]
			if len(printed) != len(steps) {
				t.Fatalf("got output of %d commands, want %d:\n%s", len(printed), len(steps), out)
			}
			for i, s := range steps {
				got := strings.Split(strings.ReplaceAll(printed[i], "\r", ""), "\n")
				at := 0
				for _, want := range s.want {
					for at < len(got) && !lineMatches(want, got[at]) {
						at++
					}
					if at == len(got) {
						t.Errorf("$ %s\nshows %q, which it does not print; it prints:\n%s", s.cmd, want, printed[i])
						break
					}
					at++
				}
			}
		})
	}
}

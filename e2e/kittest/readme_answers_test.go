package kittest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/localstack"
)

// The README's "More answers from the same stack" print what it shows: each
// command, with "curl ..." standing for the quick start's transfer command,
// runs against the local stack, and every line shown is printed, in order
// (lines the README leaves out are allowed in between).
func TestReadmeMoreAnswersPrintWhatTheyShow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack: skipped with -short")
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the examples need %s", tool)
		}
	}
	root, _ := filepath.Abs("..")
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	// The quick start's transfer command, up to its body.
	first := regexp.MustCompile("(?s)```console\n\\$ (curl -sS -X POST .*?) \\\\\n\\s+-d '").FindStringSubmatch(readme)
	if first == nil {
		t.Fatal("README.md: no quick-start transfer command")
	}
	_, rest, ok := strings.Cut(readme, "More answers from the")
	if !ok {
		t.Fatal(`README.md: no "More answers from the same stack"`)
	}
	block := regexp.MustCompile("(?s)```console\n(.*?)```").FindStringSubmatch(rest)
	if block == nil {
		t.Fatal("README.md: no console block after \"More answers\"")
	}
	var steps []docStep
	for _, line := range strings.Split(strings.TrimRight(block[1], "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "$ "):
			steps = append(steps, docStep{cmd: strings.TrimPrefix(line, "$ ")})
		case line != "" && len(steps) > 0:
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, line)
		}
	}

	st := e2etest.StartLocal(t)
	tok, err := localstack.DevToken(root, "dev-device-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	transfer := strings.NewReplacer("$(go run ./e2e/cmd/devtoken)", tok, "http://127.0.0.1:10000", st.ProxyURL).Replace(first[1])
	urls := strings.NewReplacer("http://127.0.0.1:10000", st.ProxyURL, "https://localhost:8443", st.MerchantURL)
	for _, s := range steps {
		cmd := urls.Replace(s.cmd)
		if strings.HasPrefix(cmd, "curl ... ") {
			cmd = transfer + strings.TrimPrefix(cmd, "curl ...")
		}
		c := exec.Command("bash", "-c", cmd)
		c.Dir = root
		out, err := c.Output() // stdout only: what curl prints, not its progress meter
		if err != nil {
			t.Fatalf("$ %s: %v\n%s", s.cmd, err, out)
		}
		got := strings.Split(strings.ReplaceAll(string(out), "\r", ""), "\n")
		at := 0
		for _, want := range s.want {
			for at < len(got) && !lineMatches(want, got[at]) {
				at++
			}
			if at == len(got) {
				t.Errorf("$ %s\nshows %q, which it does not print; it prints:\n%s", s.cmd, want, out)
				break
			}
			at++
		}
	}
}

package quickstarttest

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the tests from e2e/: they name the repository's files relative to it.
func TestMain(m *testing.M) {
	if err := os.Chdir(".."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

package realenvoy

import (
	"flag"
	"os"
	"testing"
)

// minParallel lets every leg of TestRealEnvoy (two real Envoys, two host
// stacks) run at once: each spends most of its time waiting (for Envoy's
// JWKS refresh, on loopback), so go test's default of one per CPU would
// serialize the waits. An explicit -parallel wins.
const minParallel = 4

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if p := flag.Lookup("test.parallel"); p != nil && !explicit {
		if n, _ := p.Value.(flag.Getter).Get().(int); n < minParallel {
			p.Value.Set("4")
		}
	}
	os.Exit(m.Run())
}

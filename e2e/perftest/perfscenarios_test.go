package perftest

import (
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/internal/auth"
	"github.com/firmly/session-transfer-filter/internal/headermap"
)

// The bench measures what it names: every request of "transfer RS256,
// uncached" misses the verifier's token cache, and every request of the
// cached row after its first hits it.
func TestPerfScenariosCacheAsNamed(t *testing.T) {
	want := map[string]auth.CacheOutcome{
		"transfer RS256, uncached":     auth.CacheMiss,
		"transfer RS256, cached token": auth.CacheHit,
	}
	e := nativeEngine(t)
	seen := 0
	for _, sc := range perfScenarios() {
		outcome, ok := want[sc.name]
		if !ok {
			continue
		}
		seen++
		sc.next(t, 0) // the cached row signs its one token here
		e.Start(headermap.Pairs(sc.next(t, 1).HeaderPairs()), time.Now())
		for i := 2; i < 6; i++ {
			if _, step := e.Start(headermap.Pairs(sc.next(t, i).HeaderPairs()), time.Now()); step.TokenCache != outcome {
				t.Errorf("%s, request %d: token cache %v, want %v", sc.name, i, step.TokenCache, outcome)
			}
		}
	}
	if seen != len(want) {
		t.Fatalf("found %d of the scenarios %v", seen, want)
	}
}

package realenvoy

import "testing"

func TestRealEnvoyPinsOneVersionPerEra(t *testing.T) {
	for _, c := range []struct{ version, era string }{
		{"1.33.0", "1.33"}, {"1.38.2", "1.33"}, {"1.39.0", "1.39"}, {"1.40.0", "1.39"}, {"2.0.0", "1.39"},
	} {
		if got := Era(c.version); got != c.era {
			t.Errorf("Era(%s) = %s, want %s", c.version, got, c.era)
		}
	}
	// The fidelity table compares each host era with a real Envoy of it.
	for _, era := range []string{"1.33", "1.39"} {
		if InEra(era) == "" {
			t.Errorf("versions.txt pins no Envoy of the %s era: %v", era, Versions())
		}
	}
}

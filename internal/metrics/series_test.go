package metrics

import (
	"slices"
	"testing"

	"github.com/firmly/session-transfer-filter/internal/apierror"
)

func TestStartSeries(t *testing.T) {
	s := StartSeries([]string{"a.example", "b.example"})
	// Every outcome of the catalogue can happen for some merchant tag.
	for _, k := range apierror.All {
		if !slices.Contains(MerchantOutcomes, k.Name) && !slices.Contains(NoMerchantOutcomes, k.Name) {
			t.Errorf("outcome %s is defined for no merchant tag", k.Name)
		}
	}
	// Refusals decided before the merchant is known never name one.
	for _, o := range []string{apierror.MissingAuthHeader.Name, apierror.MethodNotAllowed.Name, apierror.AuthUnavailable.Name} {
		if slices.Contains(MerchantOutcomes, o) {
			t.Errorf("%s is listed for a configured merchant", o)
		}
	}
	for _, want := range []string{
		RequestsName(Transferred, "a.example"), RequestsName(apierror.SessionStoreUnavailable.Name, "b.example"),
		RequestsName(apierror.MissingAuthHeader.Name, NoMerchant), RequestsName(apierror.AuthUnavailable.Name, NoMerchant),
		TokenCacheHits, JWKSFetchFailure, JWKSKeysSkipped, JWKSRefetchOnUnknownKid,
	} {
		if !slices.Contains(s.Counters, want) {
			t.Errorf("counter %s is not defined at start", want)
		}
	}
	for _, want := range []string{MerchantName(MerchantExportMs, "b.example"), MerchantName(BackendWriteMs, "a.example"), MerchantName(DurationMs, NoMerchant)} {
		if !slices.Contains(s.Histograms, want) {
			t.Errorf("histogram %s is not defined at start", want)
		}
	}
	if slices.Contains(s.Counters, RequestsName(Transferred, NoMerchant)) {
		t.Error("requests for merchant none and outcome transferred is defined, but cannot happen")
	}
	if !slices.Equal(s.Gauges, []string{JWKSVMsWithoutRemoteKeys}) {
		t.Errorf("gauges %q", s.Gauges)
	}
	if n, want := len(s.Counters), 2*len(MerchantOutcomes)+len(NoMerchantOutcomes)+len(VMCounters); n != want {
		t.Errorf("%d counters, want %d", n, want)
	}
}

package monitoring

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// Each alert's own expression, evaluated by Prometheus' engine on made-up
// series: it fires for the instance or merchant in trouble and not for the
// healthy one. (The rule's "for" is Prometheus' business.) The expression
// is wrapped in count by (<label>) so the expected result is 1 per firing
// group, whatever the exact value.
func TestAlertsFireOnlyOnTrouble(t *testing.T) {
	groups, errs := rulefmt.ParseFile("alerts.yaml", false, model.UTF8Validation, promql, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	exprs := map[string]string{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			exprs[r.Alert] = strings.Join(strings.Fields(r.Expr), " ")
		}
	}
	for _, c := range []struct {
		alert, by, load, fires string
	}{
		{"SessionTransferNoKeysLoaded", "instance", `
  session_transfer_jwks_vms_without_remote_keys{instance="a"} 1x30
  session_transfer_jwks_vms_without_remote_keys{instance="b"} 0x30`, `{instance="a"} 1`},
		{"SessionTransferJWKSFetchFailing", "instance", `
  session_transfer_jwks_fetch_failure{instance="a"} 0+1x30
  session_transfer_jwks_fetch_success{instance="a"} 5x30
  session_transfer_jwks_fetch_failure{instance="b"} 0+1x30
  session_transfer_jwks_fetch_success{instance="b"} 0+1x30
  session_transfer_jwks_fetch_failure{instance="c"} 0x30
  session_transfer_jwks_fetch_success{instance="c"} 0+1x30`, `{instance="a"} 1`},
		{"SessionTransferErrorRatioHigh", "merchant", `
  session_transfer_requests{merchant="m1",outcome="transferred"} 0+10x30
  session_transfer_requests{merchant="m1",outcome="ErrorStoreUnavailable"} 0+2x30
  session_transfer_requests{merchant="m2",outcome="transferred"} 0+10x30
  session_transfer_requests{merchant="m2",outcome="ErrorStoreUnavailable"} 0x30
  session_transfer_requests{merchant="m2",outcome="MissingAuthHeader"} 0+50x30`, `{merchant="m1"} 1`},
		{"SessionTransferMerchantExportSlow", "merchant", `
  session_transfer_merchant_export_ms_bucket{merchant="m1",le="25"} 0x30
  session_transfer_merchant_export_ms_bucket{merchant="m1",le="1000"} 0x30
  session_transfer_merchant_export_ms_bucket{merchant="m1",le="2500"} 0+10x30
  session_transfer_merchant_export_ms_bucket{merchant="m1",le="+Inf"} 0+10x30
  session_transfer_merchant_export_ms_bucket{merchant="m2",le="25"} 0+10x30
  session_transfer_merchant_export_ms_bucket{merchant="m2",le="1000"} 0+10x30
  session_transfer_merchant_export_ms_bucket{merchant="m2",le="2500"} 0+10x30
  session_transfer_merchant_export_ms_bucket{merchant="m2",le="+Inf"} 0+10x30`, `{merchant="m1"} 1`},
	} {
		t.Run(c.alert, func(t *testing.T) {
			expr, ok := exprs[c.alert]
			if !ok {
				t.Fatalf("alerts.yaml has no %s", c.alert)
			}
			script := "load 1m" + c.load + "\n\neval instant at 30m count by (" + c.by + ") (" + expr + ")\n  " + c.fires + "\n"
			promqltest.RunTest(t, script, promqltest.NewTestEngine(t, false, 5*time.Minute, 100000))
		})
	}
}

package server

import (
	"path/filepath"
	"strings"
	"testing"
)

// The admin listener's /metrics carries each tenant's share of its daily
// quota: billed answers count, unbilled ones do not, and tenants without a
// quota export no series.
func TestQuotaUsedRatioMetric(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(t, up.url, filepath.Join(t.TempDir(), "ledger.db"))
	g := startGateway(t, cfg, "")
	const series = `idgate_gateway_quota_used_ratio{tenant="acme"} `
	for _, tc := range []struct {
		name, key, prefer string
		want              string // acme's line; globex has no quota
	}{
		{"nothing used yet", "", "", series + "0\n"},
		{"billed", "acme-secret", "", series + "0.2\n"},
		{"not billed", "acme-secret", "result=-5", series + "0.2\n"},
		{"other tenant", "globex-secret", "", series + "0.2\n"},
		{"billed again", "acme-secret", "result=-1", series + "0.4\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.key != "" {
				check(t, g.url, tc.key, tc.prefer)
			}
			_, m := adminDo(t, g, "GET", "/metrics", "", "")
			if !strings.Contains(string(m), tc.want) {
				t.Errorf("metrics lack %q", tc.want)
			}
			if strings.Contains(string(m), `idgate_gateway_quota_used_ratio{tenant="globex"}`) {
				t.Error("globex has no quota but exports a ratio")
			}
		})
	}
}

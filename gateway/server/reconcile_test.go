package server

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/idgate/idgate/gateway/reconcile"
)

// POST /admin/reconcile compares the running ledger (flushed first) with
// the statement in the body.
func TestAdminReconcile(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(t, up.url, filepath.Join(t.TempDir(), "ledger.db"))
	g := startGateway(t, cfg, "")
	for range 3 {
		if code, body := check(t, g.url, "globex-secret", ""); code != 200 {
			t.Fatalf("check: %d %s", code, body)
		}
	}
	day := time.Now().UTC().Format(time.DateOnly)
	cred := reconcile.CredentialID("up-token")
	statement := func(billed int) string {
		return fmt.Sprintf(`{"from":%q,"to":%q,"days":[{"day":%q,"credential":%q,"api":"check-2e","billed":%d,"not_billed":0,"total":%d}]}`,
			day, day, day, cred, billed, billed)
	}
	for _, tc := range []struct {
		name          string
		body          string
		status        int
		verdict       string
		discrepancies int
	}{
		{"agrees", statement(3), 200, reconcile.Agrees, 0},
		{"the authority billed one more", statement(4), 200, reconcile.Discrepancy, 1},
		{"not a statement", `{"days":[{"day":"yesterday"}]}`, 400, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, b := adminDo(t, g, "POST", "/admin/reconcile?from="+day+"&to="+day, "gateway-admin-token", tc.body)
			if code != tc.status {
				t.Fatalf("status %d: %s", code, b)
			}
			if tc.status != 200 {
				return
			}
			var rep reconcile.Report
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			if len(rep.Rows) != 1 || rep.Rows[0].Verdict != tc.verdict || rep.Discrepancies != tc.discrepancies || rep.Rows[0].LedgerBilled != 3 {
				t.Fatalf("report %s", b)
			}
		})
	}
}

package loadtest

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/idgate/idgate/internal/testkit"
)

// reviewFast scales the simulator's session review from 15 minutes to
// under a second.
const reviewFast = "IDGATE_SIM_SESSIONS_TIME_SCALE=0.0005"

// The sessions script through the gateway, phone side on the simulator;
// afterwards the ledger holds exactly one billing entry per billed session
// (3 of every 4 outcomes), however often each was polled.
func TestK6SessionsThroughGateway(t *testing.T) {
	sim, gw := testkit.StartStack(t, reviewFast)
	const iterations = 16
	runK6(t, "sessions.js", "BASE_URL="+gw.URL, "API_KEY="+testkit.DemoKey, "SIM_URL="+sim.URL, "VUS=4", "ITERATIONS=16", "POLL_MS=50")

	_, export := testkit.Call(t, http.MethodGet, gw.AdminURL+"/admin/ledger.csv?tenant=demo", testkit.GatewayAdminToken, "")
	recs, err := csv.NewReader(strings.NewReader(export)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	perSession := map[string]int{}
	billed := 0
	for _, r := range recs[1:] {
		if r[col["route"]] != "sessions" {
			continue
		}
		perSession[r[col["request_id"]]]++
		if r[col["billed"]] == "true" {
			billed++
		}
	}
	if len(perSession) != iterations || billed != iterations*3/4 {
		t.Fatalf("%d sessions with an outcome entry, %d billed; want %d and %d", len(perSession), billed, iterations, iterations*3/4)
	}
	for id, n := range perSession {
		if n != 1 {
			t.Errorf("session %s has %d outcome entries", id, n)
		}
	}
	if strings.Contains(strings.Join(recs[0], ","), "name") {
		t.Error("ledger export has a name column")
	}
}

// The same script against the simulator alone (both URLs the simulator).
func TestK6SessionsAgainstSimulator(t *testing.T) {
	sim := testkit.StartSim(t, reviewFast)
	runK6(t, "sessions.js", "BASE_URL="+sim.URL, "API_KEY="+testkit.SimToken, "SIM_URL="+sim.URL, "VUS=2", "ITERATIONS=4", "POLL_MS=50")
}

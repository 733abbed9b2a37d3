package server

import (
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/config"
	"github.com/idgate/idgate/simulator/fault"
	"github.com/idgate/idgate/simulator/journal"
	"github.com/idgate/idgate/simulator/outcome"
	"github.com/idgate/idgate/simulator/stats"
)

func TestStatsShapeAndCounts(t *testing.T) {
	ts := start(t, func(c *config.Config) { c.Tokens = append(c.Tokens, "second-token") })
	body := checkBody(validName, validID)
	ts.check(t, body)                          // 0, billed
	ts.check(t, body)                          // 0, billed
	ts.check(t, body, withPrefer("result=-1")) // -1, billed
	ts.check(t, body, withPrefer("result=-5")) // -5
	ts.check(t, checkBody("Bob", validID))     // -3
	ts.do(t, contracts.CheckPath, body, withPrefer("status=500"))
	ts.do(t, contracts.CheckPath, `{`)                       // 400
	ts.do(t, contracts.CheckPath, body, withToken("nobody")) // 401: totals only
	ts.send(contracts.CheckPath, body, withPrefer("fault=connection_reset"))
	ts.check(t, body, withToken("second-token"))
	ts.do(t, "/nowhere", "", withMethod(http.MethodGet)) // api_not_implemented: totals only

	// Decode strictly: the shape other engineers' tests depend on.
	st, raw := ts.admin(t, http.MethodGet, "/admin/stats", "")
	if st != 200 {
		t.Fatalf("stats: %d", st)
	}
	var generic map[string]json.RawMessage
	if err := json.Unmarshal(raw, &generic); err != nil || len(generic) != 2 || generic["totals"] == nil || generic["tokens"] == nil {
		t.Fatalf("top level %s", raw)
	}
	var snap stats.Snapshot
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	mk := func(req, billed, notBilled int64, results, statuses, faults map[string]int64) stats.Counts {
		c := stats.Counts{Requests: req, Billed: billed, NotBilled: notBilled, Results: map[string]int64{}, Statuses: map[string]int64{}, Faults: map[string]int64{}}
		for _, r := range contracts.Results {
			c.Results[string(r.Code)] = results[string(r.Code)]
		}
		for _, s := range []string{"200", "400", "401", "429", "500"} {
			c.Statuses[s] = statuses[s]
		}
		for _, f := range []string{"connection_reset", "empty_response", "malformed_chunk", "random_then_close", "hang"} {
			c.Faults[f] = faults[f]
		}
		return c
	}
	wantSim := mk(8, 3, 5,
		map[string]int64{"0": 2, "-1": 1, "-5": 1, "-3": 1},
		map[string]int64{"200": 5, "500": 1, "400": 1},
		map[string]int64{"connection_reset": 1})
	wantSecond := mk(1, 1, 0, map[string]int64{"0": 1}, map[string]int64{"200": 1}, nil)
	wantTotals := mk(11, 4, 7,
		map[string]int64{"0": 3, "-1": 1, "-5": 1, "-3": 1},
		map[string]int64{"200": 6, "500": 1, "400": 2, "401": 1},
		map[string]int64{"connection_reset": 1})
	if !reflect.DeepEqual(snap.Tokens[testToken], wantSim) {
		t.Errorf("sim-token\n got %+v\nwant %+v", snap.Tokens[testToken], wantSim)
	}
	if !reflect.DeepEqual(snap.Tokens["second-token"], wantSecond) {
		t.Errorf("second-token\n got %+v\nwant %+v", snap.Tokens["second-token"], wantSecond)
	}
	if !reflect.DeepEqual(snap.Totals, wantTotals) {
		t.Errorf("totals\n got %+v\nwant %+v", snap.Totals, wantTotals)
	}
	// Tencent SecretIds are credentials too, listed under themselves.
	if _, ok := snap.Tokens["sim-secret-id"]; len(snap.Tokens) != 3 || !ok {
		t.Errorf("tokens %v", snap.Tokens)
	}

	// Reset zeroes everything.
	if st, _ := ts.admin(t, http.MethodPost, "/admin/reset", ""); st != 200 {
		t.Fatalf("reset: %d", st)
	}
	snap = ts.stats(t)
	if snap.Totals.Requests != 0 || snap.Tokens[testToken].Billed != 0 || snap.Totals.Results["0"] != 0 {
		t.Errorf("after reset %+v", snap)
	}
}

func TestJournalBoundedSwitchableAndMasked(t *testing.T) {
	ts := start(t, func(c *config.Config) { c.Journal.Size = 3 })
	for _, pref := range []string{"result=0", "result=-1", "result=-4", "result=-5", "status=429"} {
		ts.do(t, contracts.CheckPath, checkBody(validName, validID), withPrefer(pref))
	}
	st, b := ts.admin(t, http.MethodGet, "/admin/journal?limit=10", "")
	if st != 200 {
		t.Fatalf("journal: %d %s", st, b)
	}
	if strings.Contains(string(b), validName) || strings.Contains(string(b), validID) {
		t.Fatalf("journal holds personal data: %s", b)
	}
	var page struct {
		Enabled bool            `json:"enabled"`
		Size    int             `json:"size"`
		Entries []journal.Entry `json:"entries"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	if !page.Enabled || page.Size != 3 || len(page.Entries) != 3 {
		t.Fatalf("page %+v", page)
	}
	got := []string{page.Entries[0].Result, page.Entries[1].Result, page.Entries[2].Error}
	if strings.Join(got, ",") != "-4,-5,too_many_requests" {
		t.Errorf("newest three, oldest first: %v", got)
	}
	e := page.Entries[0]
	if e.IDCard != "110105********002X" || e.Token != testToken || e.Source != "prefer" || e.Status != 200 || e.Path != contracts.CheckPath {
		t.Errorf("entry %+v", e)
	}
	if _, b := ts.admin(t, http.MethodGet, "/admin/journal?limit=1", ""); !strings.Contains(string(b), "too_many_requests") || strings.Contains(string(b), `"-5"`) {
		t.Errorf("limit=1: %s", b)
	}

	// Switched off, it records nothing.
	if st, b := ts.admin(t, http.MethodPut, "/admin/journal", `{"enabled":false}`); st != 200 || !strings.Contains(string(b), "false") {
		t.Fatalf("switch off: %d %s", st, b)
	}
	ts.check(t, checkBody(validName, validID))
	if n := ts.Journal().Len(); n != 3 {
		t.Errorf("disabled journal grew to %d", n)
	}
	_, b = ts.admin(t, http.MethodGet, "/admin/journal", "")
	if !strings.Contains(string(b), `"enabled":false`) {
		t.Errorf("journal page %s", b)
	}
	for _, bad := range []string{`{}`, `{"enabled":"yes"}`, `nope`, `null`,
		`{"enabled":true,"enabled":false}`, `{"Enabled":true}`, `{"enabled":true,"size":5}`, `{"enabled":true} {}`} {
		if st, _ := ts.admin(t, http.MethodPut, "/admin/journal", bad); st != 400 {
			t.Errorf("PUT journal %s: %d", bad, st)
		}
	}
	if _, b := ts.admin(t, http.MethodGet, "/admin/journal", ""); !strings.Contains(string(b), `"enabled":false`) {
		t.Errorf("a refused switch took effect: %s", b)
	}
	if st, _ := ts.admin(t, http.MethodGet, "/admin/journal?limit=-1", ""); st != 400 {
		t.Errorf("limit=-1: %d", st)
	}
	ts.admin(t, http.MethodPost, "/admin/reset", "")
	if n := ts.Journal().Len(); n != 0 {
		t.Errorf("reset left %d entries", n)
	}
}

func TestAdminAuth(t *testing.T) {
	ts := start(t, nil)
	endpoints := []struct{ method, path, body string }{
		{http.MethodGet, "/admin/stats", ""},
		{http.MethodPost, "/admin/reset", ""},
		{http.MethodGet, "/admin/journal", ""},
		{http.MethodPut, "/admin/journal", `{"enabled":false}`},
		{http.MethodGet, "/admin/scenarios", ""},
		{http.MethodPut, "/admin/scenarios/sim-token", `{"outcomes":[{"result":"-1","weight":1}]}`},
		{http.MethodDelete, "/admin/scenarios/sim-token", ""},
	}
	for _, ep := range endpoints {
		for _, auth := range []string{"", "Bearer " + testToken, "Bearer wrong", "Basic " + testAdmin} {
			t.Run(ep.method+ep.path+"/"+auth, func(t *testing.T) {
				req, _ := http.NewRequest(ep.method, ts.URL+ep.path, strings.NewReader(ep.body))
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := ts.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var e contracts.ErrorBody
				json.NewDecoder(resp.Body).Decode(&e)
				resp.Body.Close()
				if resp.StatusCode != 401 || e.Error.Code != contracts.ErrInvalidToken {
					t.Errorf("status %d body %+v", resp.StatusCode, e)
				}
			})
		}
	}
	// Nothing above took effect.
	if r := ts.check(t, checkBody(validName, validID)); r.Result != contracts.ResultConsistent {
		t.Errorf("unauthorised scenario took effect: %s", r.Result)
	}
	if !ts.Journal().Enabled() {
		t.Error("unauthorised journal switch took effect")
	}
}

func TestAdminScenarioValidation(t *testing.T) {
	ts := start(t, nil)
	cases := []struct{ name, token, body, want string }{
		{"unknown token", "nobody", `{}`, "no such API token"},
		{"not JSON", testToken, `{`, "not valid JSON"},
		{"unknown field", testToken, `{"fault_rte":0.5}`, "fault_rte"},
		{"fault rate above 1", testToken, `{"fault_rate":1.5}`, "fault_rate"},
		{"unknown result", testToken, `{"outcomes":[{"result":"-9","weight":1}]}`, "unknown result"},
		{"unknown status", testToken, `{"outcomes":[{"status":418,"weight":1}]}`, "status"},
		{"both", testToken, `{"outcomes":[{"result":"0","status":500,"weight":1}]}`, "not both"},
		{"neither", testToken, `{"outcomes":[{"weight":1}]}`, "needs a result"},
		{"zero weight", testToken, `{"outcomes":[{"result":"0","weight":0}]}`, "weight"},
		{"negative weight", testToken, `{"outcomes":[{"result":"0","weight":-1}]}`, "weight"},
		{"weight above the bound", testToken, `{"outcomes":[{"result":"0","weight":1e308},{"result":"-1","weight":1e308}]}`, "at most 1000000"},
		{"fault weight above the bound", testToken, `{"fault_rate":0.1,"faults":[{"fault":"hang","weight":1e7}]}`, "weight"},
		{"unknown fault", testToken, `{"fault_rate":0.1,"faults":[{"fault":"meteor","weight":1}]}`, "unknown fault"},
		{"unknown distribution", testToken, `{"latency":{"distribution":"pareto"}}`, "unknown distribution"},
		{"uniform min above max", testToken, `{"latency":{"distribution":"uniform","min":"20ms","max":"10ms"}}`, "uniform"},
		{"lognormal without median", testToken, `{"latency":{"distribution":"lognormal","sigma":1}}`, "median"},
		{"parameters without distribution", testToken, `{"latency":{"value":"10ms"}}`, "without a distribution"},
		{"sim out of range", testToken, `{"outcomes":[{"result":"0","sim":101,"weight":1}]}`, "sim"},
		{"data after the object", testToken, `{"seed":1} {"seed":2}`, "data after the object"},
		{"garbage after the object", testToken, `{"seed":1}x`, "data after the object"},
		{"null", testToken, `null`, "must be a JSON object"},
		{"empty", testToken, ``, "must be a JSON object"},
		{"repeated key", testToken, `{"seed":1,"seed":2}`, "duplicate field seed"},
		{"repeated key in an outcome", testToken, `{"outcomes":[{"result":"0","result":"-1","weight":1}]}`, "duplicate key"},
		{"field in another case", testToken, `{"Fault_Rate":0.5}`, "case-sensitive"},
		{"latency field in another case", testToken, `{"latency":{"Distribution":"fixed"}}`, "case-sensitive"},
		{"too many outcomes", testToken, `{"outcomes":[` + strings.TrimSuffix(strings.Repeat(`{"result":"0","weight":1},`, 65), ",") + `]}`, "at most 64"},
		{"too many faults", testToken, `{"fault_rate":0.1,"faults":[` + strings.TrimSuffix(strings.Repeat(`{"fault":"hang","weight":1},`, 65), ",") + `]}`, "at most 64"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, b := ts.admin(t, http.MethodPut, "/admin/scenarios/"+tc.token, tc.body)
			if st != 400 || !strings.Contains(string(b), tc.want) {
				t.Errorf("%d %s, want 400 mentioning %q", st, b, tc.want)
			}
		})
	}
	// None of the refused bodies set a scenario.
	if st, _ := ts.admin(t, http.MethodGet, "/admin/scenarios/"+testToken, ""); st != 400 {
		t.Errorf("GET of an unset scenario: %d", st)
	}
	// A mix at the bound is accepted.
	ts.setScenario(t, testToken, `{"outcomes":[`+strings.TrimSuffix(strings.Repeat(`{"result":"0","weight":1},`, 64), ",")+`]}`)
	ts.admin(t, http.MethodDelete, "/admin/scenarios/"+testToken, "")
	ts.setScenario(t, testToken, `{"seed":3,"outcomes":[{"result":"-1","weight":1}]}`)
	st, b := ts.admin(t, http.MethodGet, "/admin/scenarios", "")
	var list []ScenarioStatus
	if st != 200 || json.Unmarshal(b, &list) != nil || len(list) != 1 || list[0].Token != testToken {
		t.Errorf("list: %d %s", st, b)
	}
	if st, _ := ts.admin(t, http.MethodGet, "/admin/nothing", ""); st != 400 {
		t.Errorf("unknown admin path: %d", st)
	}
}

// TestReadmeInStep keeps simulator/README.md listing every magic identity,
// fault and Prefer status the code knows.
func TestReadmeInStep(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, m := range contracts.MagicIdentities {
		if !strings.Contains(doc, "`"+m.IDCard+"` | "+m.Outcome) {
			t.Errorf("README lacks magic identity %s (%s)", m.IDCard, m.Outcome)
		}
	}
	for _, k := range fault.Kinds {
		if !strings.Contains(doc, "`"+k.String()+"`") {
			t.Errorf("README lacks fault %s", k)
		}
	}
	for _, st := range outcome.PreferStatuses {
		if !strings.Contains(doc, "`"+strconv.Itoa(st)+"`") {
			t.Errorf("README lacks Prefer status %d", st)
		}
	}
}

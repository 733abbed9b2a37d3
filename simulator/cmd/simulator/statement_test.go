package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/internal/testkit"
	"github.com/idgate/idgate/simulator/fault"
	"github.com/idgate/idgate/simulator/server"
	"github.com/idgate/idgate/simulator/statement"
	"github.com/idgate/idgate/simulator/stats"
)

// TestBinaryStatement drives the real simulator with a mix of outcomes
// (billed and unbilled results, HTTP errors, faults, verification
// sessions), each request carrying its own X-Request-Id, and reconciles
// the statement with the stats and with what was sent.
func TestBinaryStatement(t *testing.T) {
	bin := testkit.Build(t, "./simulator/cmd/simulator")
	addr := testkit.FreeAddr(t)
	testkit.Start(t, bin, []string{"-listen", addr}, []string{"IDGATE_SIM_CONFIG="}, "http://"+addr+"/healthz")
	base := "http://" + addr
	// No keep-alive: a fault must not leave a broken connection in a pool.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

	do := func(method, path, token, body string, header ...string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}

	type sent struct {
		clientID, traceID, result string
		billed                    bool
	}
	var checks []sent
	body := `{"name":"张三","id_card":"11010519491231002X"}`
	mix := []struct {
		prefer, id, result string
		billed             bool
	}{
		{"result=0", "", "0", true},
		{"result=-1", "", "-1", true},
		{"result=-5", "", "-5", false},
		{"", "", "0", true},
		{"result=-4", "", "-4", false},
		{"status=429", "", "too_many_requests", false},
		{"status=500", "", "api_error", false},
		{"fault=connection_reset", "", "connection_reset", false},
		{"fault=random_then_close", "", "random_then_close", false},
		{"fault=empty_response", "", "empty_response", false},
		{"fault=malformed_chunk", "", "malformed_chunk", false},
		{"", "110101191111110029", "-1", true},                // magic: inconsistent, billed
		{"", "110101191111119015", "connection_reset", false}, // magic: fault
		{"result=0", "", "0", true},
		{"result=0", "110101191111110021", "-2", false}, // bad check digit: validation wins
	}
	for i, m := range mix {
		cid := fmt.Sprintf("7d0e5c1a-0000-4000-8000-%012d", i+1)
		b := body
		if m.id != "" {
			b = `{"name":"张三","id_card":"` + m.id + `"}`
		}
		resp, rb, err := do(http.MethodPost, contracts.CheckPath, "sim-token", b, "Prefer", m.prefer, "X-Request-Id", cid)
		s := sent{clientID: cid, result: m.result, billed: m.billed}
		if err == nil {
			s.traceID = resp.Header.Get(server.HeaderTraceID)
			if len(s.traceID) != 36 {
				t.Fatalf("%d %s: no trace id: %d %s", i, m.prefer, resp.StatusCode, rb)
			}
		} else if _, isFault := fault.Parse(m.result); !isFault {
			t.Fatalf("%d %s: %v", i, m.prefer, err)
		}
		checks = append(checks, s)
	}
	// An unknown credential is answered but on nobody's statement.
	if resp, _, err := do(http.MethodPost, contracts.CheckPath, "stranger", body, "X-Request-Id", "stranger-1"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("unknown token: %v", err)
	}

	// Two app-authorisation sessions: one approved (billed), one refused.
	sessionIDs := map[string]bool{}
	for i, prefer := range []string{"", "app_auth=7001"} {
		resp, rb, err := do(http.MethodPost, contracts.SessionsPath, "sim-token", `{"flow":"app_auth"}`, "X-Request-Id", fmt.Sprintf("sess-rid-%d", i))
		var s contracts.Session
		if err != nil || resp.StatusCode != 201 || json.Unmarshal(rb, &s) != nil {
			t.Fatalf("create session: %v %s", err, rb)
		}
		sessionIDs[s.RequestID] = prefer == ""
		if resp, rb, err := do(http.MethodPost, "/phone/open", "", `{"request_id":"`+s.RequestID+`"}`); err != nil || resp.StatusCode != 200 {
			t.Fatalf("open: %v %s", err, rb)
		}
		if resp, rb, err := do(http.MethodPost, "/phone/sessions/"+s.RequestID+"/authorize", "", `{}`, "Prefer", prefer); err != nil || resp.StatusCode != 200 {
			t.Fatalf("authorize: %v %s", err, rb)
		}
	}

	admin := func(path string, header ...string) (*http.Response, []byte) {
		t.Helper()
		resp, b, err := do(http.MethodGet, path, "sim-admin-token", "", header...)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %s", path, err, b)
		}
		return resp, b
	}
	_, sb := admin("/admin/stats")
	var st stats.Snapshot
	if err := json.Unmarshal(sb, &st); err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(time.FixedZone("CST", 8*3600))
	rng := "from=" + now.AddDate(0, 0, -1).Format("2006-01-02") + "&to=" + now.AddDate(0, 0, 1).Format("2006-01-02")
	_, rb := admin("/admin/statement?" + rng + "&lines=true")
	var rep contracts.Statement
	if err := json.Unmarshal(rb, &rep); err != nil {
		t.Fatalf("statement %s: %v", rb, err)
	}

	var checkBilled, checkTotal, sessBilled, sessTotal int64
	for _, row := range rep.Days {
		switch row.API {
		case "check-2e":
			checkBilled += row.Billed
			checkTotal += row.Total
		case "sessions":
			sessBilled += row.Billed
			sessTotal += row.Total
		}
	}
	if checkBilled != st.Totals.Billed || checkTotal != st.Tokens["sim-token"].Requests || checkTotal != int64(len(checks)) {
		t.Errorf("statement check-2e: %d billed of %d; stats: %d billed, %d requests by sim-token; sent %d",
			checkBilled, checkTotal, st.Totals.Billed, st.Tokens["sim-token"].Requests, len(checks))
	}
	if sessBilled != 1 || sessTotal != 2 {
		t.Errorf("statement sessions: %d billed of %d, want 1 of 2", sessBilled, sessTotal)
	}
	if rep.Calendar != "Asia/Shanghai" || rep.LinesDropped != 0 || rep.Authority != "idgate-simulator" {
		t.Errorf("statement header %+v", rep)
	}
	var got []contracts.StatementLine
	for _, l := range rep.Lines {
		if l.API == "check-2e" {
			got = append(got, l)
			continue
		}
		billed, ok := sessionIDs[l.RequestID]
		if !ok || l.Billed != billed || !strings.HasPrefix(l.ClientRequestID, "sess-rid-") {
			t.Errorf("session line %+v", l)
		}
	}
	if len(got) != len(checks) {
		t.Fatalf("%d check lines, sent %d", len(got), len(checks))
	}
	var billedLines int64
	for i, l := range got {
		w := checks[i]
		if l.ClientRequestID != w.clientID || l.Result != w.result || l.Billed != w.billed || (w.traceID != "" && l.RequestID != w.traceID) ||
			l.Credential != statement.CredentialID("sim-token") {
			t.Errorf("line %d: %+v, sent %+v", i, l, w)
		}
		if l.Billed {
			billedLines++
		}
	}
	if billedLines != st.Totals.Billed {
		t.Errorf("%d billed lines, stats bill %d", billedLines, st.Totals.Billed)
	}

	resp, cb := admin("/admin/statement?"+rng+"&lines=true", "Accept", "text/csv")
	recs, err := csv.NewReader(strings.NewReader(string(cb))).ReadAll()
	if err != nil || resp.Header.Get(server.HeaderLinesDropped) != "0" || len(recs) != 1+len(rep.Lines) || strings.Join(recs[0], ",") != strings.Join(statement.LinesColumns, ",") {
		t.Errorf("lines CSV: %v, %d records: %s", err, len(recs), cb)
	}

	if resp, b, err := do(http.MethodPost, "/admin/reset", "sim-admin-token", ""); err != nil || resp.StatusCode != 200 {
		t.Fatalf("reset: %v %s", err, b)
	}
	_, rb = admin("/admin/statement?" + rng + "&lines=true")
	rep = contracts.Statement{}
	if err := json.Unmarshal(rb, &rep); err != nil || len(rep.Days) != 0 || len(rep.Lines) != 0 {
		t.Errorf("after reset: %s", rb)
	}
}

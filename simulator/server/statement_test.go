package server

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/config"
	"github.com/idgate/idgate/simulator/statement"
)

// statementGet fetches /admin/statement with a query and extra headers.
func (ts *testServer) statementGet(t *testing.T, query string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/admin/statement?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatalf("statement: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (ts *testServer) statement(t *testing.T, query string) contracts.Statement {
	t.Helper()
	st, h, b := ts.statementGet(t, query)
	if st != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("statement: %d %s %s", st, h.Get("Content-Type"), b)
	}
	var r contracts.Statement
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("statement %s: %v", b, err)
	}
	if h.Get(HeaderLinesDropped) != strconv.FormatInt(r.LinesDropped, 10) {
		t.Errorf("%s %q, body says %d", HeaderLinesDropped, h.Get(HeaderLinesDropped), r.LinesDropped)
	}
	return r
}

// aroundToday spans the authority's yesterday to tomorrow, so a test
// that runs across its midnight still finds its requests.
func aroundToday() (from, to string) {
	now := time.Now().In(shanghaiLoc())
	return now.AddDate(0, 0, -1).Format("2006-01-02"), now.AddDate(0, 0, 1).Format("2006-01-02")
}

func todayQuery() string {
	from, to := aroundToday()
	return "from=" + from + "&to=" + to
}

func shanghaiLoc() *time.Location {
	cfg := config.Default()
	loc, _ := cfg.Location()
	return loc
}

// Every check answer carries the authority's id, the statement lists it
// with the client's X-Request-Id, and the statement bills exactly what the
// stats bill.
func TestStatementAgreesWithStatsAndAnswers(t *testing.T) {
	ts := start(t, nil)
	type sent struct {
		clientID string
		traceID  string // "" for faults: the client never sees it
		result   string
		billed   bool
	}
	var all []sent
	n := 0
	send := func(prefer, wantResult string, billed bool) {
		t.Helper()
		n++
		cid := fmt.Sprintf("0f8c1c1e-1234-4abc-8def-%012d", n)
		resp, err := ts.send(contracts.CheckPath, checkBody(validName, validID), withPrefer(prefer), withHeader("X-Request-Id", cid))
		s := sent{clientID: cid, result: wantResult, billed: billed}
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			s.traceID = resp.Header.Get(HeaderTraceID)
			if len(s.traceID) != 36 {
				t.Fatalf("%s: answer %d without %s: %s", prefer, resp.StatusCode, HeaderTraceID, b)
			}
			if resp.StatusCode != 200 {
				var e contracts.ErrorBody
				if json.Unmarshal(b, &e) != nil || e.TraceID != s.traceID {
					t.Errorf("%s: error trace_id %q, header %q", prefer, e.TraceID, s.traceID)
				}
			} else if strings.Contains(string(b), "trace") {
				t.Errorf("success body changed shape: %s", b)
			}
		}
		all = append(all, s)
	}
	for i := 0; i < 3; i++ {
		send("result=0", "0", true)
	}
	send("result=-1", "-1", true)
	send("result=-5", "-5", false)
	send("result=-7", "-7", false)
	send("status=429", "too_many_requests", false)
	send("status=500", "api_error", false)
	send("fault=connection_reset", "connection_reset", false)
	send("fault=random_then_close", "random_then_close", false)
	send("fault=empty_response", "empty_response", false)
	send("latency=x", "token_mismatched", false)
	// No credential, no statement line: still an id for the client.
	st, h, _ := ts.do(t, contracts.CheckPath, checkBody(validName, validID), withToken("nobody"))
	if st != 401 || len(h.Get(HeaderTraceID)) != 36 {
		t.Errorf("unknown token: %d, trace id %q", st, h.Get(HeaderTraceID))
	}

	stats := ts.stats(t)
	r := ts.statement(t, todayQuery()+"&lines=true")
	var billed, total int64
	for _, row := range r.Days {
		if row.API == "check-2e" {
			billed += row.Billed
			total += row.Total
		}
		if row.Credential != statement.CredentialID(testToken) {
			t.Errorf("row credential %q", row.Credential)
		}
	}
	if billed != stats.Totals.Billed || billed != 4 || total != stats.Tokens[testToken].Requests || total != int64(len(all)) {
		t.Errorf("statement billed %d of %d, stats billed %d of %d (token), sent %d", billed, total, stats.Totals.Billed, stats.Tokens[testToken].Requests, len(all))
	}
	if len(r.Lines) != len(all) || r.LinesDropped != 0 {
		t.Fatalf("%d lines (%d dropped), sent %d", len(r.Lines), r.LinesDropped, len(all))
	}
	for i, l := range r.Lines {
		w := all[i]
		if l.ClientRequestID != w.clientID || l.Result != w.result || l.Billed != w.billed || l.API != "check-2e" ||
			(w.traceID != "" && l.RequestID != w.traceID) || len(l.RequestID) != 36 {
			t.Errorf("line %d %+v, sent %+v", i, l, w)
		}
	}
	// The journal names each request by the same id (the 401 is its last).
	entries := ts.Journal().Last(0)
	if len(entries) != len(all)+1 {
		t.Fatalf("%d journal entries", len(entries))
	}
	for i, l := range r.Lines {
		if got := entries[i].RequestID.String(); got != l.RequestID {
			t.Errorf("journal entry %d request_id %q, statement %q", i, got, l.RequestID)
		}
	}
	if strings.Contains(string(mustJSON(t, r)), testToken) {
		t.Errorf("the statement shows the token")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A client that gives up while the authority is still answering is billed
// for the verdict all the same, in the stats and on the statement alike.
func TestStatementBillsAnswersTheClientAbandoned(t *testing.T) {
	ts := start(t, nil)
	impatient := &http.Client{Transport: ts.client.Transport, Timeout: 50 * time.Millisecond}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+contracts.CheckPath, strings.NewReader(checkBody(validName, validID)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Prefer", "result=0, latency=300ms")
	req.Header.Set("X-Request-Id", "abandoned-1")
	if resp, err := impatient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the client was meant to time out")
	}
	deadline := time.Now().Add(5 * time.Second)
	for ts.stats(t).Totals.Requests == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the abandoned request was never counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := ts.statement(t, todayQuery()+"&lines=true")
	if s := ts.stats(t); s.Totals.Billed != 1 || len(r.Days) != 1 || r.Days[0].Billed != 1 ||
		len(r.Lines) != 1 || r.Lines[0].ClientRequestID != "abandoned-1" || !r.Lines[0].Billed {
		t.Errorf("stats billed %d; statement %+v", s.Totals.Billed, r)
	}
}

func TestStatementDayFollowsTheAuthoritysCalendar(t *testing.T) {
	loc := shanghaiLoc()
	var now atomic.Pointer[time.Time]
	set := func(t time.Time) { now.Store(&t) }
	set(time.Date(2025, 3, 31, 23, 59, 59, 999_000_000, loc))
	ts := start(t, nil, WithClock(func() time.Time { return *now.Load() }))
	ts.check(t, checkBody(validName, validID))
	set(time.Date(2025, 4, 1, 0, 0, 0, 0, loc))
	ts.check(t, checkBody(validName, validID))
	ts.check(t, checkBody(validName, validID), withPrefer("result=-5"))

	r := ts.statement(t, "from=2025-03-31&to=2025-04-01&lines=true")
	if len(r.Days) != 2 || r.Days[0].Day != "2025-03-31" || r.Days[0].Billed != 1 ||
		r.Days[1].Day != "2025-04-01" || r.Days[1].Billed != 1 || r.Days[1].NotBilled != 1 {
		t.Fatalf("days %+v", r.Days)
	}
	if len(r.Lines) != 3 || r.Lines[0].Day != "2025-03-31" || r.Lines[1].Day != "2025-04-01" {
		t.Fatalf("lines %+v", r.Lines)
	}
	// Without from and to: the authority's today.
	if r := ts.statement(t, ""); r.From != "2025-04-01" || r.To != "2025-04-01" || len(r.Days) != 1 {
		t.Errorf("today's statement %+v", r)
	}
}

func TestStatementCSV(t *testing.T) {
	ts := start(t, nil)
	ts.check(t, checkBody(validName, validID), withHeader("X-Request-Id", "rid-1"))
	ts.check(t, checkBody(validName, validID), withPrefer("result=-5"), withHeader("X-Request-Id", "rid-2"))
	from, to := aroundToday()
	file := "statement-" + from + "-" + to
	cases := []struct {
		name, query, accept string
		header              []string
		rows                int
		file                string
	}{
		{"format=csv", todayQuery() + "&format=csv", "", statement.TotalsColumns, 1, file + ".csv"},
		{"Accept", todayQuery(), "text/csv", statement.TotalsColumns, 1, file + ".csv"},
		{"lines", todayQuery() + "&format=csv&lines=true", "", statement.LinesColumns, 2, file + "-lines.csv"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, h, b := ts.statementGet(t, tc.query, "Accept", tc.accept)
			if st != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || h.Get(HeaderLinesDropped) != "0" ||
				!strings.Contains(h.Get("Content-Disposition"), `filename="`+tc.file+`"`) {
				t.Fatalf("%d %v %s", st, h, b)
			}
			recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
			if err != nil || len(recs) != 1+tc.rows || strings.Join(recs[0], ",") != strings.Join(tc.header, ",") {
				t.Fatalf("CSV %q (%v)", recs, err)
			}
			if tc.rows == 1 && strings.Join(recs[1][3:6], ",") != "1,1,2" {
				t.Errorf("totals %q", recs[1])
			}
			if tc.rows == 2 && (recs[1][1] != "rid-1" || recs[2][1] != "rid-2" || recs[1][6] != "0" || recs[2][6] != "-5") {
				t.Errorf("lines %q", recs)
			}
		})
	}
}

func TestStatementCapReportsDroppedLines(t *testing.T) {
	ts := start(t, func(c *config.Config) { c.Statement.MaxLines = 2 })
	for i := 0; i < 5; i++ {
		ts.check(t, checkBody(validName, validID), withHeader("X-Request-Id", "rid-"+strconv.Itoa(i)))
	}
	r := ts.statement(t, todayQuery()+"&lines=true")
	if r.LinesDropped != 3 || len(r.Lines) != 2 || r.Lines[0].ClientRequestID != "rid-3" || r.Lines[1].ClientRequestID != "rid-4" ||
		len(r.Days) != 1 || r.Days[0].Billed != 5 || r.Days[0].LinesDropped != 3 {
		t.Errorf("statement %+v", r)
	}
}

func TestStatementAdminErrorsAndReset(t *testing.T) {
	ts := start(t, nil)
	for _, q := range []string{"from=2025-02-30", "from=2025-02-01&to=2025-01-01", "lines=maybe", "format=pdf", "form=2025-01-01", "from=%zz", "from=2025-01-01&from=2025-01-02"} {
		st, h, b := ts.statementGet(t, q)
		expectError(t, st, h, b, 400, contracts.ErrTokenMismatched)
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/admin/statement", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	expectError(t, resp.StatusCode, resp.Header, b, 401, contracts.ErrInvalidToken)

	ts.check(t, checkBody(validName, validID))
	if r := ts.statement(t, todayQuery()); len(r.Days) != 1 {
		t.Fatalf("before reset: %+v", r)
	}
	if st, b := ts.admin(t, http.MethodPost, "/admin/reset", ""); st != 200 {
		t.Fatalf("reset: %d %s", st, b)
	}
	if r := ts.statement(t, todayQuery()+"&lines=true"); len(r.Days) != 0 || len(r.Lines) != 0 || r.LinesDropped != 0 {
		t.Errorf("after reset: %+v", r)
	}
}

// readCheckHeaders finds what the per-header lookups it replaced found:
// the first of each header, whatever the case the client wrote it in.
func TestReadCheckHeaders(t *testing.T) {
	cases := []struct {
		name, headers     string
		auth, clientID    string
		hasAuth, hasID, p bool
	}{
		{"none", "", "", "", false, false, false},
		{"all", "Authorization: Bearer a\r\nX-Request-Id: r1\r\nPrefer: result=0\r\n", "Bearer a", "r1", true, true, true},
		{"lower case names", "authorization: Bearer a\r\nx-request-id: r1\r\nprefer: result=0\r\n", "Bearer a", "r1", true, true, true},
		{"first of each", "Authorization: Bearer a\r\nAuthorization: Bearer b\r\nX-Request-Id: r1\r\nX-Request-Id: r2\r\n", "Bearer a", "r1", true, true, false},
		{"empty first Prefer", "Prefer:\r\nPrefer: result=0\r\n", "", "", false, false, false},
		{"look-alikes", "Content-Type: application/json\r\nCookie: a=b\r\nX-Request-Ix: r\r\n", "", "", false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var req fasthttp.Request
			raw := "POST /identity/idcard/check-2e HTTP/1.1\r\nHost: sim\r\n" + tc.headers + "Content-Length: 0\r\n\r\n"
			if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
				t.Fatal(err)
			}
			h := readCheckHeaders(&req.Header)
			if string(h.auth) != tc.auth || (h.auth != nil) != tc.hasAuth || string(h.clientID) != tc.clientID ||
				(h.clientID != nil) != tc.hasID || h.prefer != tc.p {
				t.Errorf("got auth %q client %q prefer %v", h.auth, h.clientID, h.prefer)
			}
			// The lookups it replaced agree.
			if string(req.Header.Peek("Authorization")) != tc.auth || string(req.Header.Peek("X-Request-Id")) != tc.clientID ||
				(len(req.Header.Peek("Prefer")) > 0) != tc.p {
				t.Errorf("Peek disagrees")
			}
		})
	}
}

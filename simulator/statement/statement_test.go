package statement

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/fault"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

func newTest(t *testing.T, maxLines int, tokens ...string) *Statement {
	t.Helper()
	if len(tokens) == 0 {
		tokens = []string{"tok-a", "tok-b"}
	}
	s, err := New(Config{Authority: "test-authority", Calendar: shanghai, Credentials: tokens, MaxLines: maxLines})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func all(t *testing.T, s *Statement, from, to string) (*Snapshot, contracts.Statement) {
	t.Helper()
	q := Query{From: mustDay(t, from), To: mustDay(t, to), Lines: true}
	snap := s.Snapshot(q)
	var buf bytes.Buffer
	if err := snap.Write(&buf); err != nil {
		t.Fatal(err)
	}
	var r contracts.Statement
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("statement JSON: %v\n%s", err, buf.String())
	}
	return snap, r
}

func mustDay(t *testing.T, s string) Day {
	t.Helper()
	d, err := ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLineIsSmall(t *testing.T) {
	if n := unsafe.Sizeof(line{}); n > 56 {
		t.Errorf("a line takes %d bytes, want at most 56", n)
	}
}

// The authority's calendar decides the day: a request a millisecond before
// midnight in Shanghai and one at midnight are on different days, whatever
// day UTC says.
func TestDayBoundaryInShanghai(t *testing.T) {
	cases := []struct {
		name string
		at   time.Time
		day  string
	}{
		{"last millisecond of the day", time.Date(2025, 3, 31, 23, 59, 59, 999_000_000, shanghai), "2025-03-31"},
		{"last nanosecond of the day", time.Date(2025, 3, 31, 23, 59, 59, 999_999_999, shanghai), "2025-03-31"},
		{"local midnight", time.Date(2025, 4, 1, 0, 0, 0, 0, shanghai), "2025-04-01"},
		{"16:00 UTC is the next day in Shanghai", time.Date(2025, 3, 31, 16, 0, 0, 0, time.UTC), "2025-04-01"},
		{"15:59:59.999 UTC is still the day before", time.Date(2025, 3, 31, 15, 59, 59, 999_000_000, time.UTC), "2025-03-31"},
		{"new year", time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), "2026-01-01"},
		{"leap day", time.Date(2024, 2, 29, 12, 0, 0, 0, shanghai), "2024-02-29"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTest(t, 10)
			s.Record(tc.at, 0, APICheck2E, s.NextID(), nil, Result(0))
			_, r := all(t, s, "2024-01-01", "2026-12-31")
			if len(r.Days) != 1 || r.Days[0].Day != tc.day || r.Days[0].Billed != 1 {
				t.Fatalf("days %+v, want one billed row on %s", r.Days, tc.day)
			}
			if len(r.Lines) != 1 || r.Lines[0].Day != tc.day || !r.Lines[0].Time.Equal(tc.at) {
				t.Fatalf("lines %+v, want one on %s at %s", r.Lines, tc.day, tc.at)
			}
			if _, off := r.Lines[0].Time.Zone(); off != 8*3600 {
				t.Errorf("line time %s is not in the authority's zone", r.Lines[0].Time)
			}
		})
	}
	// Both sides of one midnight, recorded out of order.
	s := newTest(t, 10)
	before := time.Date(2025, 3, 31, 23, 59, 59, 999_000_000, shanghai)
	after := time.Date(2025, 4, 1, 0, 0, 0, 0, shanghai)
	s.Record(after, 0, APICheck2E, s.NextID(), nil, Result(0))
	s.Record(before, 0, APICheck2E, s.NextID(), nil, Result(1))
	s.Record(after, 0, APICheck2E, s.NextID(), nil, Result(0))
	_, r := all(t, s, "2025-03-31", "2025-04-01")
	if len(r.Days) != 2 || r.Days[0].Day != "2025-03-31" || r.Days[0].Total != 1 || r.Days[1].Day != "2025-04-01" || r.Days[1].Total != 2 {
		t.Fatalf("days %+v", r.Days)
	}
	for day, want := range map[string]int{"2025-03-31": 1, "2025-04-01": 2} {
		_, r := all(t, s, day, day)
		if len(r.Days) != 1 || r.Days[0].Total != int64(want) || len(r.Lines) != want {
			t.Errorf("%s alone: days %+v, %d lines", day, r.Days, len(r.Lines))
		}
	}
}

func TestBillingClassPerOutcome(t *testing.T) {
	cases := []struct {
		name   string
		o      Outcome
		result string
		status int
		billed bool
	}{
		{"0 consistent", Result(0), "0", 200, true},
		{"-1 inconsistent", Result(1), "-1", 200, true},
		{"-2 illegal id", Result(2), "-2", 200, false},
		{"-3 illegal name", Result(3), "-3", 200, false},
		{"-4 database exception", Result(4), "-4", 200, false},
		{"-5 no record", Result(5), "-5", 200, false},
		{"-6 upgrading", Result(6), "-6", 200, false},
		{"-7 daily limit", Result(7), "-7", 200, false},
		{"400", Error(contracts.ErrTokenMismatched), "token_mismatched", 400, false},
		{"401", Error(contracts.ErrInvalidToken), "invalid_token", 401, false},
		{"429", Error(contracts.ErrTooManyRequests), "too_many_requests", 429, false},
		{"500", Error(contracts.ErrAPIError), "api_error", 500, false},
		{"connection_reset", Fault(fault.ConnectionReset), "connection_reset", 0, false},
		{"empty_response", Fault(fault.EmptyResponse), "empty_response", 0, false},
		{"malformed_chunk", Fault(fault.MalformedChunk), "malformed_chunk", 0, false},
		{"random_then_close", Fault(fault.RandomThenClose), "random_then_close", 0, false},
		{"hang", Fault(fault.Hang), "hang", 0, false},
		{"session approved", Session(contracts.CodeOK, true), "0", 200, true},
		{"session 2006", Session(contracts.CodeNameIDMismatch, true), "2006", 200, true},
		{"session 2005", Session(contracts.CodeNoRecord, false), "2005", 200, false},
		{"session failed 66664024", Session(contracts.CodeNFCWrongCard, false), "66664024", 200, false},
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, shanghai)
	total := newTest(t, 100)
	var wantBilled int64
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.o.Billed(); got != tc.billed {
				t.Fatalf("Billed() = %v, want %v", got, tc.billed)
			}
			api := APICheck2E
			if strings.HasPrefix(tc.name, "session") {
				api = APISessions
			}
			s := newTest(t, 10)
			s.Record(at, 1, api, s.NextID(), nil, tc.o)
			_, r := all(t, s, "2025-06-01", "2025-06-01")
			b, nb := int64(0), int64(1)
			if tc.billed {
				b, nb = 1, 0
			}
			if len(r.Days) != 1 || r.Days[0].Billed != b || r.Days[0].NotBilled != nb || r.Days[0].Total != 1 || r.Days[0].API != api.String() ||
				r.Days[0].Credential != CredentialID("tok-b") {
				t.Errorf("days %+v", r.Days)
			}
			l := r.Lines[0]
			if l.Result != tc.result || l.Status != tc.status || l.Billed != tc.billed || l.API != api.String() {
				t.Errorf("line %+v, want result %s status %d billed %v", l, tc.result, tc.status, tc.billed)
			}
		})
		total.Record(at, 0, APICheck2E, total.NextID(), nil, tc.o)
		if tc.billed {
			wantBilled++
		}
	}
	_, r := all(t, total, "2025-06-01", "2025-06-01")
	if len(r.Days) != 1 || r.Days[0].Billed != wantBilled || r.Days[0].Total != int64(len(cases)) {
		t.Errorf("all outcomes: %+v, want %d billed of %d", r.Days, wantBilled, len(cases))
	}
}

// The ring keeps the newest lines; every line it lets go is counted as
// dropped against its own day, credential and API, and the counts stay
// exact.
func TestCapAndLinesDropped(t *testing.T) {
	day1 := time.Date(2025, 1, 1, 10, 0, 0, 0, shanghai)
	day2 := day1.Add(24 * time.Hour)
	type rec struct {
		at   time.Time
		cred int
		api  API
	}
	cases := []struct {
		name        string
		max         int
		recs        []rec
		wantHeld    int
		wantDropped map[string]int64 // day/cred/api → dropped
		wantTotal   int64
	}{
		{"under the cap", 5, []rec{{day1, 0, APICheck2E}, {day1, 0, APICheck2E}}, 2, map[string]int64{}, 2},
		{"exactly the cap", 2, []rec{{day1, 0, APICheck2E}, {day1, 1, APICheck2E}}, 2, map[string]int64{}, 2},
		{"over the cap: the oldest go", 2, []rec{{day1, 0, APICheck2E}, {day1, 1, APISessions}, {day2, 0, APICheck2E}, {day2, 0, APICheck2E}}, 2,
			map[string]int64{"2025-01-01/0/check-2e": 1, "2025-01-01/1/sessions": 1}, 4},
		{"wraps several times", 3, func() []rec {
			var r []rec
			for i := 0; i < 10; i++ {
				r = append(r, rec{day1, i % 2, APICheck2E})
			}
			return r
		}(), 3, map[string]int64{"2025-01-01/0/check-2e": 4, "2025-01-01/1/check-2e": 3}, 10},
		{"counts only", 0, []rec{{day1, 0, APICheck2E}, {day2, 1, APICheck2E}}, 0,
			map[string]int64{"2025-01-01/0/check-2e": 1, "2025-01-02/1/check-2e": 1}, 2},
		{"across chunks", 1<<chunkBits + 5, func() []rec {
			r := make([]rec, 1<<chunkBits+10)
			for i := range r {
				r[i] = rec{day1, 0, APICheck2E}
			}
			return r
		}(), 1<<chunkBits + 5, map[string]int64{"2025-01-01/0/check-2e": 5}, 1<<chunkBits + 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTest(t, tc.max)
			var ids []string
			for _, r := range tc.recs {
				id := s.NextID()
				ids = append(ids, id.String())
				s.Record(r.at, r.cred, r.api, id, nil, Result(0))
			}
			snap, rep := all(t, s, "2025-01-01", "2025-01-02")
			if len(rep.Lines) != tc.wantHeld {
				t.Fatalf("%d lines held, want %d", len(rep.Lines), tc.wantHeld)
			}
			for i, l := range rep.Lines {
				if want := ids[len(ids)-tc.wantHeld+i]; l.RequestID != want {
					t.Fatalf("line %d is %s, want %s (the newest, oldest first)", i, l.RequestID, want)
				}
			}
			var sum, total int64
			creds := []string{CredentialID("tok-a"), CredentialID("tok-b")}
			for _, row := range rep.Days {
				key := row.Day + "/"
				for i, c := range creds {
					if c == row.Credential {
						key += strconv.Itoa(i)
					}
				}
				key += "/" + row.API
				if row.LinesDropped != tc.wantDropped[key] {
					t.Errorf("row %s: %d dropped, want %d", key, row.LinesDropped, tc.wantDropped[key])
				}
				sum += row.LinesDropped
				total += row.Total
			}
			if rep.LinesDropped != sum || snap.LinesDropped() != sum {
				t.Errorf("lines_dropped %d, rows say %d", rep.LinesDropped, sum)
			}
			if total != tc.wantTotal || total != int64(len(rep.Lines))+rep.LinesDropped {
				t.Errorf("total %d, want %d = %d lines + %d dropped", total, tc.wantTotal, len(rep.Lines), rep.LinesDropped)
			}
		})
	}
}

func TestResetKeepsIDsUnique(t *testing.T) {
	s := newTest(t, 4)
	at := time.Date(2025, 5, 5, 5, 5, 5, 0, shanghai)
	first := s.NextID()
	for i := 0; i < 6; i++ {
		s.Record(at, 0, APICheck2E, s.NextID(), nil, Result(0))
	}
	s.Reset()
	_, r := all(t, s, "2025-05-05", "2025-05-05")
	if len(r.Days) != 0 || len(r.Lines) != 0 || r.LinesDropped != 0 {
		t.Fatalf("after reset: %+v", r)
	}
	id := s.NextID()
	s.Record(at, 0, APICheck2E, id, nil, Result(1))
	_, r = all(t, s, "2025-05-05", "2025-05-05")
	if len(r.Lines) != 1 || r.Lines[0].RequestID != id.String() || r.Lines[0].RequestID == first.String() || r.Days[0].Billed != 1 {
		t.Fatalf("after reset and one request: %+v", r)
	}
}

func TestRequestIDs(t *testing.T) {
	s := newTest(t, 1)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := s.NextID().String()
		if len(id) != 36 || id[14] != '4' || !uuidShape([]byte(id)) || seen[id] {
			t.Fatalf("id %q (duplicate: %v)", id, seen[id])
		}
		seen[id] = true
	}
	sid := "0123456789abcdef0123456789abcdef"
	id, ok := SessionID(sid)
	if !ok || id.String() != sid {
		t.Errorf("session id %s → %s %v", sid, id, ok)
	}
	for _, bad := range []string{"", "0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdeg"} {
		if _, ok := SessionID(bad); ok {
			t.Errorf("SessionID(%q) accepted", bad)
		}
	}
}

func TestClientRequestIDForms(t *testing.T) {
	long := strings.Repeat("a", 17)
	cases := []struct{ in, want string }{
		{"", ""},
		{"0f8c1c1e-1234-4abc-8def-0123456789ab", "0f8c1c1e-1234-4abc-8def-0123456789ab"},
		{"0F8C1C1E-1234-4ABC-8DEF-0123456789AB", "0F8C1C1E-1234-4ABC-8DEF-0123456789AB"},
		{"4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"req-42", "req-42"},
		{"a.b_c:d-e", "a.b_c:d-e"},
		{"0123456789abcdef", "0123456789abcdef"},
		{long, digest(long)},
		{"0F8c1c1e-1234-4abc-8def-0123456789ab", digest("0F8c1c1e-1234-4abc-8def-0123456789ab")},
		{"=cmd|'/c calc'", digest("=cmd|'/c calc'")},
		{"-1", digest("-1")},
		{"a,b", digest("a,b")},
		{`a"b`, digest(`a"b`)},
		{"张三", digest("张三")},
		{"\xff", digest("\xff")},
	}
	for _, tc := range cases {
		if got := ClientIDForm(tc.in); got != tc.want {
			t.Errorf("ClientIDForm(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func sha256Sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func digest(s string) string {
	h := sha256Sum(s)
	return DigestPrefix + h[:32]
}

func TestCSV(t *testing.T) {
	s := newTest(t, 10)
	at := time.Date(2025, 7, 1, 9, 30, 0, 123_000_000, shanghai)
	ids := []ID{s.NextID(), s.NextID(), s.NextID()}
	s.Record(at, 0, APICheck2E, ids[0], []byte("0f8c1c1e-1234-4abc-8def-0123456789ab"), Result(0))
	s.Record(at, 0, APICheck2E, ids[1], []byte("rid-2"), Result(5))
	s.Record(at.Add(time.Hour), 1, APICheck2E, ids[2], nil, Fault(fault.ConnectionReset))

	read := func(q Query) [][]string {
		t.Helper()
		var buf bytes.Buffer
		snap := s.Snapshot(q)
		if err := snap.Write(&buf); err != nil {
			t.Fatal(err)
		}
		if snap.ContentType() != "text/csv; charset=utf-8" {
			t.Errorf("content type %s", snap.ContentType())
		}
		if !strings.HasSuffix(buf.String(), "\r\n") {
			t.Errorf("records do not end in CRLF: %q", buf.String())
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("CSV: %v", err)
		}
		return recs
	}
	d := mustDay(t, "2025-07-01")
	totals := read(Query{From: d, To: d, Format: FormatCSV})
	want := [][]string{TotalsColumns,
		{"2025-07-01", CredentialID("tok-a"), "check-2e", "1", "1", "2", "0"},
		{"2025-07-01", CredentialID("tok-b"), "check-2e", "0", "1", "1", "0"},
	}
	if CredentialID("tok-a") > CredentialID("tok-b") {
		want[1], want[2] = want[2], want[1]
	}
	if !equal(totals, want) {
		t.Errorf("totals CSV\n got %q\nwant %q", totals, want)
	}
	lines := read(Query{From: d, To: d, Format: FormatCSV, Lines: true})
	want = [][]string{LinesColumns,
		{ids[0].String(), "0f8c1c1e-1234-4abc-8def-0123456789ab", CredentialID("tok-a"), "check-2e", "2025-07-01T09:30:00.123+08:00", "2025-07-01", "0", "200", "true"},
		{ids[1].String(), "rid-2", CredentialID("tok-a"), "check-2e", "2025-07-01T09:30:00.123+08:00", "2025-07-01", "-5", "200", "false"},
		{ids[2].String(), "", CredentialID("tok-b"), "check-2e", "2025-07-01T10:30:00.123+08:00", "2025-07-01", "connection_reset", "0", "false"},
	}
	if !equal(lines, want) {
		t.Errorf("lines CSV\n got %q\nwant %q", lines, want)
	}
	empty := read(Query{From: d + 1, To: d + 1, Format: FormatCSV})
	if !equal(empty, [][]string{TotalsColumns}) {
		t.Errorf("empty day: %q", empty)
	}
}

func equal(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return false
		}
	}
	return true
}

func TestJSONShape(t *testing.T) {
	s := newTest(t, 10)
	at := time.Date(2025, 7, 1, 9, 30, 0, 0, shanghai)
	s.Record(at, 0, APICheck2E, s.NextID(), []byte("rid-1"), Result(1))
	var buf bytes.Buffer
	d := mustDay(t, "2025-07-01")
	if err := s.Snapshot(Query{From: d, To: d}).Write(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	for _, k := range []string{"authority", "calendar", "from", "to", "days", "lines_dropped"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, buf.String())
		}
	}
	if _, ok := m["lines"]; ok {
		t.Errorf("lines without lines=true: %s", buf.String())
	}
	if string(m["calendar"]) != `"Asia/Shanghai"` && string(m["calendar"]) != `"CST"` {
		t.Errorf("calendar %s", m["calendar"])
	}
	buf.Reset()
	if err := s.Snapshot(Query{From: d + 1, To: d + 1, Lines: true}).Write(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"days":[]`) || !strings.Contains(buf.String(), `"lines":[]`) {
		t.Errorf("empty statement: %s", buf.String())
	}
}

// Counts stay exact under concurrent traffic (run with -race).
func TestConcurrentRecordsAreExact(t *testing.T) {
	s := newTest(t, 1000)
	at := time.Date(2025, 8, 8, 8, 0, 0, 0, shanghai)
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				s.Record(at.Add(time.Duration(i)*time.Millisecond), w%2, APICheck2E, s.NextID(), nil, Result(i%3))
			}
		}(w)
		if w == 4 {
			s.Snapshot(Query{From: mustDay(t, "2025-08-08"), To: mustDay(t, "2025-08-08"), Lines: true})
		}
	}
	wg.Wait()
	_, r := all(t, s, "2025-08-08", "2025-08-08")
	var billed, total int64
	for _, row := range r.Days {
		billed += row.Billed
		total += row.Total
	}
	// i%3: 0 and 1 are billed ("0", "-1"), 2 is not ("-2").
	var wantBilled int64
	for i := 0; i < each; i++ {
		if i%3 < 2 {
			wantBilled++
		}
	}
	wantBilled *= workers
	if total != workers*each || billed != wantBilled || int64(len(r.Lines))+r.LinesDropped != total {
		t.Errorf("total %d billed %d (want %d, %d); %d lines + %d dropped", total, billed, workers*each, wantBilled, len(r.Lines), r.LinesDropped)
	}
}

func TestUnknownCredentialIsIgnored(t *testing.T) {
	s := newTest(t, 10)
	at := time.Date(2025, 8, 8, 8, 0, 0, 0, shanghai)
	s.Record(at, -1, APICheck2E, s.NextID(), nil, Result(0))
	s.Record(at, 2, APICheck2E, s.NextID(), nil, Result(0))
	if i := s.CredentialByKey("nope"); i != -1 {
		t.Errorf("CredentialByKey(nope) = %d", i)
	}
	if i := s.CredentialByKey(sha256Sum("tok-b")[:24]); i != 1 {
		t.Errorf("CredentialByKey(tok-b's key) = %d, want 1", i)
	}
	_, r := all(t, s, "2025-08-08", "2025-08-08")
	if len(r.Days) != 0 || len(r.Lines) != 0 {
		t.Errorf("unknown credentials recorded: %+v", r)
	}
}

// uuidShape reports the 8-4-4-4-12 hex form.
func uuidShape(b []byte) bool {
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHexDigit(c) {
				return false
			}
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// FuzzClientIDForm: an id the statement keeps verbatim comes back exactly
// as sent; any other comes back as its digest.
func FuzzClientIDForm(f *testing.F) {
	for _, s := range []string{"", "0f8c1c1e-1234-4abc-8def-0123456789ab", "0F8C1C1E-1234-4ABC-8DEF-0123456789AB",
		"0f8c1c1e-1234-4abc-8def-0123456789aB", "0f8c1c1e+1234-4abc-8def-0123456789ab", "4bf92f3577b34da6a3ce929d0e0e4736",
		"4bf92f3577b34da6a3ce929d0e0e473G", "req-42", "=1+1", strings.Repeat("x", 17)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		got := ClientIDForm(id)
		if got != id && got != digest(id) {
			t.Fatalf("ClientIDForm(%q) = %q: neither the id nor its digest", id, got)
		}
		if got == id && id != "" && !safeRaw([]byte(id)) && len(id) != 36 && len(id) != 32 {
			t.Fatalf("%q kept verbatim", id)
		}
	})
}

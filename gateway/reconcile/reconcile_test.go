package reconcile

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/ledger"
)

// fakeLedger keeps billing per day and route and the unknown entries.
type fakeLedger struct {
	billing  map[string]*ledger.DayRoute // day/route
	unknown  []ledger.Entry
	resolved map[string]string // request id → class
}

func newFake() *fakeLedger {
	return &fakeLedger{billing: map[string]*ledger.DayRoute{}, resolved: map[string]string{}}
}

func (f *fakeLedger) dr(day, route string) *ledger.DayRoute {
	k := day + "/" + route
	if f.billing[k] == nil {
		f.billing[k] = &ledger.DayRoute{Day: day, Route: route}
	}
	return f.billing[k]
}

func (f *fakeLedger) billed(day, route string, n int64) { f.dr(day, route).Billed += n }

func (f *fakeLedger) addUnknown(day, route, id string) {
	f.dr(day, route).Unknown++
	f.unknown = append(f.unknown, ledger.Entry{Time: time.Now(), Day: day, Route: route, RequestID: id, Class: "unknown"})
}

func (f *fakeLedger) Billing(_ context.Context, from, to string) ([]ledger.DayRoute, error) {
	var out []ledger.DayRoute
	for _, r := range f.billing {
		if r.Day >= from && r.Day <= to {
			out = append(out, *r)
		}
	}
	return out, nil
}

func (f *fakeLedger) Unresolved(_ context.Context, from, to string) ([]ledger.Entry, error) {
	var out []ledger.Entry
	for _, e := range f.unknown {
		if f.resolved[e.RequestID] == "" && e.Day >= from && e.Day <= to {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeLedger) Resolve(_ context.Context, rs []ledger.Entry) error {
	for _, e := range rs {
		f.resolved[e.RequestID] = e.Class
		r := f.dr(e.Day, e.Route)
		r.Resolved++
		if e.Class == ledger.ClassResolvedBilled {
			r.Billed++
		}
	}
	return nil
}

const day = "2026-12-04"

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(f *fakeLedger)
		st        contracts.Statement
		resolve   bool
		verdict   string
		resolved  int
		unknown   int64
		discrepan int
	}{
		{"agrees", func(f *fakeLedger) { f.billed(day, "check-2e", 10) },
			contracts.Statement{From: day, To: day, Days: []contracts.StatementRow{{Day: day, Credential: "c", API: "check-2e", Billed: 10}}}, true, Agrees, 0, 0, 0},
		{"more billed than the ledger knows", func(f *fakeLedger) { f.billed(day, "check-2e", 10) },
			contracts.Statement{From: day, To: day, Days: []contracts.StatementRow{{Day: day, Credential: "c", API: "check-2e", Billed: 12}}}, true, Discrepancy, 0, 0, 1},
		{"unknowns open without lines", func(f *fakeLedger) {
			f.billed(day, "check-2e", 10)
			f.addUnknown(day, "check-2e", "r1")
			f.addUnknown(day, "check-2e", "r2")
		}, contracts.Statement{From: day, To: day, Days: []contracts.StatementRow{{Day: day, Credential: "c", API: "check-2e", Billed: 11}}}, true, Open, 0, 2, 1},
		{"unknowns resolved by lines", func(f *fakeLedger) {
			f.billed(day, "check-2e", 10)
			f.addUnknown(day, "check-2e", "r1")
			f.addUnknown(day, "check-2e", "r2")
			f.addUnknown(day, "check-2e", "r3")
		}, contracts.Statement{From: day, To: day, Days: []contracts.StatementRow{{Day: day, Credential: "c", API: "check-2e", Billed: 11}},
			Lines: []contracts.StatementLine{
				{RequestID: "a1", ClientRequestID: "r1", Credential: "c", API: "check-2e", Day: day, Result: "0", Billed: true},
				{RequestID: "a2", ClientRequestID: "r2", Credential: "c", API: "check-2e", Day: day, Result: "connection_reset"},
				// r3 never reached the authority: no line.
			}}, true, Resolved, 3, 0, 0},
		{"another credential's lines do not resolve", func(f *fakeLedger) {
			f.billed(day, "check-2e", 10)
			f.addUnknown(day, "check-2e", "r1")
		}, contracts.Statement{From: day, To: day, LinesDropped: 1, Days: []contracts.StatementRow{{Day: day, Credential: "c", API: "check-2e", Billed: 11}},
			Lines: []contracts.StatementLine{{RequestID: "a1", ClientRequestID: "r1", Credential: "other", API: "check-2e", Day: day, Billed: true}}},
			true, Open, 0, 1, 1},
		{"dropped lines leave missing ones open", func(f *fakeLedger) {
			f.billed(day, "check-2e", 10)
			f.addUnknown(day, "check-2e", "r1")
		}, contracts.Statement{From: day, To: day, LinesDropped: 5, Days: []contracts.StatementRow{{Day: day, Credential: "c", API: "check-2e", Billed: 10}},
			Lines: []contracts.StatementLine{{RequestID: "a9", ClientRequestID: "x", Credential: "c", API: "check-2e", Day: day}}}, true, Open, 0, 1, 1},
		{"resolve off", func(f *fakeLedger) {
			f.billed(day, "check-2e", 1)
			f.addUnknown(day, "check-2e", "r1")
		}, contracts.Statement{From: day, To: day, Days: []contracts.StatementRow{{Day: day, Credential: "c", API: "check-2e", Billed: 2}},
			Lines: []contracts.StatementLine{{RequestID: "a1", ClientRequestID: "r1", Credential: "c", API: "check-2e", Day: day, Billed: true}}},
			false, Open, 0, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			tc.setup(f)
			rep, err := Run(context.Background(), f, tc.st, day, day, "c", tc.resolve)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Rows) != 1 {
				t.Fatalf("rows %+v", rep.Rows)
			}
			r := rep.Rows[0]
			if r.Verdict != tc.verdict || rep.NewlyResolved != tc.resolved || r.Unknown != tc.unknown || rep.Discrepancies != tc.discrepan {
				t.Fatalf("report %+v, want verdict %q, %d resolved, %d unknown open, %d discrepancies", rep, tc.verdict, tc.resolved, tc.unknown, tc.discrepan)
			}
			var buf bytes.Buffer
			if err := rep.Write(&buf); err != nil || !strings.Contains(buf.String(), tc.verdict) {
				t.Fatalf("table %q (%v)", buf.String(), err)
			}
			// A second run resolves nothing more and says the same.
			again, err := Run(context.Background(), f, tc.st, day, day, "c", tc.resolve)
			if err != nil || again.NewlyResolved != 0 || again.Rows[0].Verdict != tc.verdict {
				t.Fatalf("second run %+v (%v)", again, err)
			}
		})
	}
}

func TestParseStatement(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"simulator shape", `{"authority":"idgate-simulator","calendar":"Asia/Shanghai","from":"2026-12-04","to":"2026-12-04",
		  "days":[{"day":"2026-12-04","credential":"3f2a9c1e","api":"check-2e","billed":2,"not_billed":1,"total":3,"lines_dropped":0}],
		  "lines":[{"request_id":"a","client_request_id":"b","credential":"3f2a9c1e","api":"check-2e","time":"2026-12-04T09:30:00+08:00","day":"2026-12-04","result":"0","status":200,"billed":true}],
		  "lines_dropped":0}`, true},
		{"bad day", `{"days":[{"day":"04/12/2026","api":"check-2e"}]}`, false},
		{"negative count", `{"days":[{"day":"2026-12-04","api":"check-2e","billed":-1}]}`, false},
		{"two values", `{} {}`, false},
		{"not json", `day,api`, false},
	} {
		_, err := ParseStatement(strings.NewReader(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v", tc.name, err)
		}
	}
}

func FuzzParseStatement(f *testing.F) {
	f.Add(`{"days":[{"day":"2026-12-04","api":"check-2e","billed":1}]}`)
	f.Add(`{"lines":[{"day":"2026-12-04","api":"x"}],"lines_dropped":-1}`)
	f.Fuzz(func(t *testing.T, in string) {
		st, err := ParseStatement(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range st.Days {
			if r.Billed < 0 || !isDay(r.Day) {
				t.Fatalf("accepted row %+v", r)
			}
		}
	})
}

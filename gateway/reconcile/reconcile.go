package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/ledger"
)

// Ledger is what reconciliation reads and writes of the ledger.
type Ledger interface {
	Billing(ctx context.Context, from, to string) ([]ledger.DayRoute, error)
	Unresolved(ctx context.Context, from, to string) ([]ledger.Entry, error)
	Resolve(ctx context.Context, resolutions []ledger.Entry) error
}

// Verdicts of a report row.
const (
	Agrees      = "agrees"
	Resolved    = "unknowns resolved"
	Open        = "unknowns open"
	Discrepancy = "discrepancy"
)

// ReportRow is one day and API: the ledger's billed and unknown entries
// (unknowns still open, after this run's resolutions), the statement's
// billed count and the verdict. Difference is statement billed less ledger
// billed.
type ReportRow struct {
	Day             string `json:"day"`
	API             string `json:"api"`
	LedgerBilled    int64  `json:"ledger_billed"`
	Unknown         int64  `json:"unknown"`
	Resolved        int64  `json:"resolved"`
	StatementBilled int64  `json:"statement_billed"`
	Verdict         string `json:"verdict"`
	Difference      int64  `json:"difference"`
}

// Report is a reconciliation's outcome.
type Report struct {
	From       string      `json:"from"`
	To         string      `json:"to"`
	Credential string      `json:"credential"`
	Rows       []ReportRow `json:"rows"`
	// NewlyResolved counts the unknown entries this run resolved.
	NewlyResolved int `json:"newly_resolved"`
	// Discrepancies counts rows that do not agree to the unit.
	Discrepancies int `json:"discrepancies"`
}

// CredentialID is how a statement names a credential: the first 8 hex
// digits of the SHA-256 of its token (the token itself is never in a
// statement).
func CredentialID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:4])
}

// Run reconciles the ledger with st for the days from..to (inclusive),
// counting only the statement's rows and lines of credential ("" : all).
// With resolve, every unresolved unknown entry is resolved from the
// statement's lines: a line with the entry's request id says billed or not
// billed; no line, in a statement that dropped none and covers the day,
// means the authority never answered it (not billed). The resolutions are
// recorded in the ledger before the comparison.
func Run(ctx context.Context, led Ledger, st contracts.Statement, from, to, credential string, resolve bool) (Report, error) {
	rep := Report{From: from, To: to, Credential: credential}
	if from > to {
		return rep, fmt.Errorf("reconcile: from %s is after to %s", from, to)
	}
	if resolve && len(st.Lines) > 0 {
		n, err := resolveUnknowns(ctx, led, st, from, to, credential)
		if err != nil {
			return rep, err
		}
		rep.NewlyResolved = n
	}
	billing, err := led.Billing(ctx, from, to)
	if err != nil {
		return rep, err
	}
	type key struct{ day, api string }
	rows := map[key]*ReportRow{}
	row := func(k key) *ReportRow {
		if rows[k] == nil {
			rows[k] = &ReportRow{Day: k.day, API: k.api}
		}
		return rows[k]
	}
	for _, b := range billing {
		r := row(key{b.Day, b.Route})
		r.LedgerBilled, r.Unknown, r.Resolved = b.Billed, b.Unknown-b.Resolved, b.Resolved
	}
	for _, s := range st.Days {
		if s.Day < from || s.Day > to || (credential != "" && s.Credential != credential) {
			continue
		}
		row(key{s.Day, s.API}).StatementBilled += s.Billed
	}
	for _, r := range rows {
		r.Difference = r.StatementBilled - r.LedgerBilled
		switch {
		case r.Difference == 0 && r.Unknown == 0 && r.Resolved > 0:
			r.Verdict = Resolved
		case r.Difference == 0 && r.Unknown == 0:
			r.Verdict = Agrees
		case r.Difference >= 0 && r.Difference <= r.Unknown:
			r.Verdict = Open
		default:
			r.Verdict = Discrepancy
		}
		if r.Verdict == Open || r.Verdict == Discrepancy {
			rep.Discrepancies++
		}
		rep.Rows = append(rep.Rows, *r)
	}
	sort.Slice(rep.Rows, func(i, j int) bool {
		a, b := rep.Rows[i], rep.Rows[j]
		return a.Day < b.Day || (a.Day == b.Day && a.API < b.API)
	})
	return rep, nil
}

func resolveUnknowns(ctx context.Context, led Ledger, st contracts.Statement, from, to, credential string) (int, error) {
	unknown, err := led.Unresolved(ctx, from, to)
	if err != nil || len(unknown) == 0 {
		return 0, err
	}
	lines := make(map[string]contracts.StatementLine, len(st.Lines))
	for _, l := range st.Lines {
		if l.ClientRequestID != "" && (credential == "" || l.Credential == credential) {
			lines[l.ClientRequestID] = l
		}
	}
	covers := func(day string) bool { return st.From <= day && day <= st.To }
	var out []ledger.Entry
	for _, e := range unknown {
		l, ok := lines[e.RequestID]
		switch {
		case ok && l.Billed:
			e.Class, e.Result, e.UpstreamID = ledger.ClassResolvedBilled, l.Result, l.RequestID
		case ok:
			e.Class, e.Result, e.UpstreamID = ledger.ClassResolvedNotBilled, l.Result, l.RequestID
		case st.LinesDropped == 0 && covers(e.Day):
			e.Class, e.Result = ledger.ClassResolvedNotBilled, ""
		default:
			continue // the statement cannot say: stays unknown
		}
		e.HTTPStatus, e.Attempts, e.UpstreamLatency = 0, 0, 0
		out = append(out, e)
	}
	if len(out) == 0 {
		return 0, nil
	}
	return len(out), led.Resolve(ctx, out)
}

// Write prints the report as a table.
func (r Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "day\tapi\tledger billed\tunknown\tresolved\tstatement billed\tverdict\n")
	for _, row := range r.Rows {
		verdict := row.Verdict
		if row.Verdict == Discrepancy || row.Verdict == Open {
			verdict = fmt.Sprintf("%s (%+d)", row.Verdict, row.Difference)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", row.Day, row.API, row.LedgerBilled, row.Unknown, row.Resolved, row.StatementBilled, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d unknown entries resolved by this run; %d rows do not agree\n", r.NewlyResolved, r.Discrepancies)
	return err
}

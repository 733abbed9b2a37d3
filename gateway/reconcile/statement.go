// Package reconcile compares the gateway's ledger with the authority's
// statement of what it billed, day by day and API by API, and resolves the
// ledger's unknown entries (calls that may have been billed) with the
// statement's per-request lines. It is what lets finance prove the bill:
// after a crash, a timeout or a broken answer the ledger satisfies
//
//	ledger billed ≤ statement billed ≤ ledger billed + ledger unknown
//
// and reconciliation turns every unknown into billed or not billed, so the
// two agree to the unit.
package reconcile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/idgate/idgate/contracts"
)

// MaxStatementBytes bounds a statement read: about a million lines.
const MaxStatementBytes = 256 << 20

// ParseStatement reads an authority's statement (contracts.Statement, the
// simulator's GET /admin/statement) in JSON, refusing one that is not
// well formed (a day that is not YYYY-MM-DD, negative counts).
func ParseStatement(r io.Reader) (contracts.Statement, error) {
	var st contracts.Statement
	dec := json.NewDecoder(io.LimitReader(r, MaxStatementBytes+1))
	if err := dec.Decode(&st); err != nil {
		return contracts.Statement{}, fmt.Errorf("reconcile: statement: %w", err)
	}
	if dec.More() {
		return contracts.Statement{}, errors.New("reconcile: statement: more than one JSON value")
	}
	for _, row := range st.Days {
		if !isDay(row.Day) || row.Billed < 0 || row.NotBilled < 0 || row.API == "" {
			return contracts.Statement{}, fmt.Errorf("reconcile: statement: malformed row %+v", row)
		}
	}
	for _, l := range st.Lines {
		if !isDay(l.Day) || l.API == "" {
			return contracts.Statement{}, fmt.Errorf("reconcile: statement: malformed line for request %q", l.RequestID)
		}
	}
	if st.LinesDropped < 0 {
		return contracts.Statement{}, errors.New("reconcile: statement: negative lines_dropped")
	}
	return st, nil
}

func isDay(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

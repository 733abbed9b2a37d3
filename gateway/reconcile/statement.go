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
)

// Statement is the authority's usage export: per day, credential and API
// the billed and unbilled counts, and optionally one line per request
// with both sides' request ids (the simulator's GET /admin/statement, in
// JSON; simulator/README.md documents the columns).
type Statement struct {
	Authority    string `json:"authority"`
	Calendar     string `json:"calendar"`
	From         string `json:"from"`
	To           string `json:"to"`
	Days         []Row  `json:"days"`
	Lines        []Line `json:"lines"`
	LinesDropped int64  `json:"lines_dropped"`
}

// Row is one day, credential and API of a statement.
type Row struct {
	Day        string `json:"day"`
	Credential string `json:"credential"`
	API        string `json:"api"`
	Billed     int64  `json:"billed"`
	NotBilled  int64  `json:"not_billed"`
	Total      int64  `json:"total"`
}

// Line is one request the authority answered.
type Line struct {
	RequestID       string `json:"request_id"`
	ClientRequestID string `json:"client_request_id"`
	Credential      string `json:"credential"`
	API             string `json:"api"`
	Day             string `json:"day"`
	Result          string `json:"result"`
	Billed          bool   `json:"billed"`
}

// MaxStatementBytes bounds a statement read: about a million lines.
const MaxStatementBytes = 256 << 20

// ParseStatement reads a statement in JSON, refusing one that is not a
// well-formed statement (a day that is not YYYY-MM-DD, negative counts).
func ParseStatement(r io.Reader) (Statement, error) {
	var st Statement
	dec := json.NewDecoder(io.LimitReader(r, MaxStatementBytes+1))
	if err := dec.Decode(&st); err != nil {
		return Statement{}, fmt.Errorf("reconcile: statement: %w", err)
	}
	if dec.More() {
		return Statement{}, errors.New("reconcile: statement: more than one JSON value")
	}
	for _, row := range st.Days {
		if !isDay(row.Day) || row.Billed < 0 || row.NotBilled < 0 || row.API == "" {
			return Statement{}, fmt.Errorf("reconcile: statement: malformed row %+v", row)
		}
	}
	for _, l := range st.Lines {
		if !isDay(l.Day) || l.API == "" {
			return Statement{}, fmt.Errorf("reconcile: statement: malformed line for request %q", l.RequestID)
		}
	}
	if st.LinesDropped < 0 {
		return Statement{}, errors.New("reconcile: statement: negative lines_dropped")
	}
	return st, nil
}

func isDay(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

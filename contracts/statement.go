package contracts

import "time"

// Statement is an authority's usage export: what it answered and billed,
// per calendar day, credential and API, and optionally one line per
// request with both sides' request ids. The simulator serves it (GET
// /admin/statement); the gateway reconciles its ledger against it.
type Statement struct {
	Authority string `json:"authority"`
	// Calendar is the time zone whose days the statement counts.
	Calendar string         `json:"calendar"`
	From     string         `json:"from"`
	To       string         `json:"to"`
	Days     []StatementRow `json:"days"`
	// Lines are present when asked for (lines=true), oldest first.
	Lines []StatementLine `json:"lines,omitempty"`
	// LinesDropped counts requests in the range whose lines the ring no
	// longer holds: they are in the counts but cannot be matched one by
	// one.
	LinesDropped int64 `json:"lines_dropped"`
}

// StatementRow is one day's counts for one credential and API; only
// rows with traffic are listed.
type StatementRow struct {
	Day          string `json:"day"`
	Credential   string `json:"credential"`
	API          string `json:"api"`
	Billed       int64  `json:"billed"`
	NotBilled    int64  `json:"not_billed"`
	Total        int64  `json:"total"`
	LinesDropped int64  `json:"lines_dropped"`
}

// StatementLine is one request the authority answered.
type StatementLine struct {
	RequestID       string    `json:"request_id"`
	ClientRequestID string    `json:"client_request_id"`
	Credential      string    `json:"credential"`
	API             string    `json:"api"`
	Time            time.Time `json:"time"`
	Day             string    `json:"day"`
	// Result is the answer: a check result code ("0" … "-7"), an error
	// code (too_many_requests …), a fault name (connection_reset …) or a
	// session code ("0", "2006" …).
	Result string `json:"result"`
	// Status is the HTTP status answered; 0 when the connection was broken
	// instead.
	Status int  `json:"status"`
	Billed bool `json:"billed"`
}

package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reconciliation with the authority's statement resolves unknown entries:
// each gets an entry of its own, class resolved_billed or
// resolved_not_billed, with the same request id; the unknown entry stays,
// so the history is auditable. A resolved_billed entry is billed (it
// counts in every billed total); the quota keeps one unit for an unknown
// until it resolves not billed (BilledOn).
const (
	ClassResolvedBilled    = "resolved_billed"
	ClassResolvedNotBilled = "resolved_not_billed"
)

// DayRoute is one day and route's billing in the ledger: billed entries
// (resolutions to billed included), unknown entries, and how many of the
// unknowns are resolved.
type DayRoute struct {
	Day, Route      string
	Billed, Unknown int64
	Resolved        int64
}

// Billing counts, per day and route between from and to (inclusive), the
// entries reconciliation compares with the authority's statement.
func (l *Reader) Billing(ctx context.Context, from, to string) ([]DayRoute, error) {
	rows, err := l.db.QueryContext(ctx, l.sql(`
SELECT day, route,
       SUM(CASE WHEN billed = 1 THEN 1 ELSE 0 END),
       SUM(CASE WHEN class = 'unknown' THEN 1 ELSE 0 END),
       SUM(CASE WHEN class IN ('resolved_billed', 'resolved_not_billed') THEN 1 ELSE 0 END)
FROM ledger WHERE day >= ? AND day <= ? AND (billed = 1 OR class IN ('unknown', 'resolved_billed', 'resolved_not_billed'))
GROUP BY day, route ORDER BY day, route`), from, to)
	if err != nil {
		return nil, fmt.Errorf("ledger: billing: %w", err)
	}
	defer rows.Close()
	var out []DayRoute
	for rows.Next() {
		var r DayRoute
		if err := rows.Scan(&r.Day, &r.Route, &r.Billed, &r.Unknown, &r.Resolved); err != nil {
			return nil, fmt.Errorf("ledger: billing: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Unresolved returns the unknown entries between from and to that have no
// resolution yet, oldest first. The resolved request ids are one
// uncorrelated set, read once: the entries have no request id index, and
// a per-entry lookup would scan the ledger once per entry.
func (l *Reader) Unresolved(ctx context.Context, from, to string) ([]Entry, error) {
	rows, err := l.db.QueryContext(ctx, l.sql(`
SELECT u.ts, u.day, u.request_id, u.tenant, u.key_id, u.route, u.id_masked
FROM ledger u WHERE u.class = 'unknown' AND u.day >= ? AND u.day <= ?
AND u.request_id NOT IN (SELECT request_id FROM ledger WHERE class IN ('resolved_billed', 'resolved_not_billed'))
ORDER BY u.id`), from, to)
	if err != nil {
		return nil, fmt.Errorf("ledger: unresolved: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var ts int64
		if err := rows.Scan(&ts, &e.Day, &e.RequestID, &e.Tenant, &e.KeyID, &e.Route, &e.IDMasked); err != nil {
			return nil, fmt.Errorf("ledger: unresolved: %w", err)
		}
		e.Time = time.Unix(0, ts)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Resolve records the resolutions, in one transaction: each entry must be
// an unknown entry Unresolved returned, with Class set to one of the
// resolved classes (and Result, UpstreamID to what the statement says).
func (l *Reader) Resolve(ctx context.Context, resolutions []Entry) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: resolve: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, e := range resolutions {
		if e.Class != ClassResolvedBilled && e.Class != ClassResolvedNotBilled {
			return fmt.Errorf("ledger: resolve %s: class %q is not a resolution", e.RequestID, e.Class)
		}
		e.Billed = e.Class == ClassResolvedBilled
		if err := InsertTx(ctx, tx, e); err != nil {
			return fmt.Errorf("ledger: resolve %s: %w", e.RequestID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: resolve: %w", err)
	}
	return nil
}

// Reader answers the ledger's queries over its database: the reports
// (reports.go) and reconciliation's reading and resolving of unknown
// entries. SQLite embeds one; OpenReader opens one on its own.
type Reader struct {
	db *sql.DB
	// dollar: the database numbers its parameters ($1, $2, …: PostgreSQL)
	// where the queries are written with ? (SQLite).
	dollar bool
}

// sql is query in the database's parameter syntax.
func (l *Reader) sql(query string) string {
	if !l.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// OpenReader opens an existing ledger database for reconciliation (the
// gateway may be running: SQLite serialises the two processes' writes).
func OpenReader(path string) (*Reader, error) {
	if err := CheckFile(Config{Path: path}, false); err != nil {
		return nil, err
	}
	db, err := OpenDB(path)
	if err != nil {
		return nil, err
	}
	return &Reader{db: db}, nil
}

// Close closes a ledger OpenReader opened. A running ledger's own Close
// (SQLite.Close) shadows it: it drains the writer before the database.
func (l *Reader) Close() error { return l.db.Close() }

package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Entries are stored narrow: what repeats from request to request (day,
// tenant, key, route, result, class, billed, HTTP status) is one row of
// ledger_dims, and each entry keeps only its own values plus that row's id.
// Per entry that is six values instead of thirteen, which halves the
// writer's CPU per entry — the gateway's largest single cost after the
// network. The view named ledger joins them back, so every reader (export,
// counts, operators with the sqlite3 shell) sees one table.

// migrations are the ledger's schema versions, in order (migrate.go). A
// released step never changes: a change to the tables is a new step at the
// end of the list.
var migrations = []migration{
	{version: 1, name: "entries, their repeated values, daily usage and the ledger view", apply: createLedger},
	{version: 2, name: "the upstream's own request id on each entry", apply: addUpstreamID},
}

// ledgerTables are the tables of schema version 1.
const ledgerTables = `
CREATE TABLE IF NOT EXISTS ledger_dims (
	id          INTEGER PRIMARY KEY,
	day         TEXT    NOT NULL,
	tenant      TEXT    NOT NULL,
	key_id      TEXT    NOT NULL,
	route       TEXT    NOT NULL,
	result      TEXT    NOT NULL,
	class       TEXT    NOT NULL,
	billed      INTEGER NOT NULL,
	http_status INTEGER NOT NULL,
	UNIQUE (day, tenant, key_id, route, result, class, billed, http_status)
);
CREATE TABLE IF NOT EXISTS ledger_entries (
	id          INTEGER PRIMARY KEY,
	ts          INTEGER NOT NULL, -- unix nanoseconds
	dim         INTEGER NOT NULL REFERENCES ledger_dims(id),
	request_id  TEXT    NOT NULL,
	upstream_us INTEGER NOT NULL,
	id_masked   TEXT    NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0 -- upstream calls made
);
-- Daily counts per key and class, kept in the same transaction as the
-- entries: usage reports and the quota rebuild read a few rows instead of
-- scanning the ledger, and the ledger needs no index to maintain per insert.
CREATE TABLE IF NOT EXISTS usage_daily (
	day    TEXT    NOT NULL,
	tenant TEXT    NOT NULL,
	key_id TEXT    NOT NULL,
	class  TEXT    NOT NULL,
	count  INTEGER NOT NULL,
	PRIMARY KEY (day, tenant, key_id, class)
) WITHOUT ROWID;
-- usage_daily answers the per-day queries a day index on the wide layout
-- served.
DROP INDEX IF EXISTS ledger_day;
`

// ledgerView is the ledger as one table. It can only be created once a
// wide ledger table, if any, has been moved out of its name (moveWide).
const ledgerView = `
CREATE VIEW IF NOT EXISTS ledger AS
SELECT e.id, e.ts, d.day, e.request_id, d.tenant, d.key_id, d.route, d.result, d.class,
       d.billed, d.http_status, e.upstream_us, e.id_masked, e.attempts
FROM ledger_entries e JOIN ledger_dims d ON d.id = e.dim`

// createLedger is schema version 1. A database with no version recorded
// may already hold this layout, or the wide one, so the step creates only
// what is missing and moves a wide ledger table's rows into it: a ledger
// file made by any earlier gateway opens with all its entries.
func createLedger(ctx context.Context, tx schemaTx) error {
	if _, err := tx.ExecContext(ctx, ledgerTables); err != nil {
		return fmt.Errorf("tables: %w", err)
	}
	if err := moveWide(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, ledgerView); err != nil {
		return fmt.Errorf("view: %w", err)
	}
	return nil
}

// addUpstreamID is schema version 2: each entry keeps the id the
// upstream gave its answer, so a line of the authority's statement can be
// matched to it. Older entries have none (”).
func addUpstreamID(ctx context.Context, tx schemaTx) error {
	for _, q := range []string{
		`ALTER TABLE ledger_entries ADD COLUMN upstream_id TEXT NOT NULL DEFAULT ''`,
		`DROP VIEW IF EXISTS ledger`,
		ledgerViewV2,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("upstream id: %w", err)
		}
	}
	return nil
}

// ledgerViewV2 is the ledger as one table, with the upstream's id.
const ledgerViewV2 = `
CREATE VIEW ledger AS
SELECT e.id, e.ts, d.day, e.request_id, d.tenant, d.key_id, d.route, d.result, d.class,
       d.billed, d.http_status, e.upstream_us, e.id_masked, e.attempts, e.upstream_id
FROM ledger_entries e JOIN ledger_dims d ON d.id = e.dim`

// moveWide moves the wide layout (one table named ledger holding every
// column, with or without attempts) into ledger_dims and ledger_entries,
// keeping entry ids and order, then drops it. It runs inside the step's
// transaction: a crash leaves either the wide table or the narrow ones.
func moveWide(ctx context.Context, tx schemaTx) error {
	var kind string
	err := tx.QueryRowContext(ctx, `SELECT type FROM sqlite_master WHERE name = 'ledger'`).Scan(&kind)
	if errors.Is(err, sql.ErrNoRows) || kind == "view" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("wide layout: %w", err)
	}
	var hasAttempts int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info('ledger') WHERE name = 'attempts'`).Scan(&hasAttempts); err != nil {
		return fmt.Errorf("wide layout: %w", err)
	}
	attempts := "0"
	if hasAttempts > 0 {
		attempts = "l.attempts"
	}
	for _, q := range []string{
		`INSERT OR IGNORE INTO ledger_dims(day, tenant, key_id, route, result, class, billed, http_status)
		 SELECT DISTINCT day, tenant, key_id, route, result, class, billed, http_status FROM ledger`,
		`INSERT INTO ledger_entries(id, ts, dim, request_id, upstream_us, id_masked, attempts)
		 SELECT l.id, l.ts, d.id, l.request_id, l.upstream_us, l.id_masked, ` + attempts + ` FROM ledger l
		 JOIN ledger_dims d ON d.day = l.day AND d.tenant = l.tenant AND d.key_id = l.key_id AND d.route = l.route
		  AND d.result = l.result AND d.class = l.class AND d.billed = l.billed AND d.http_status = l.http_status
		 ORDER BY l.id`,
		`DROP TABLE ledger`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("move wide layout to narrow entries: %w", err)
		}
	}
	return nil
}

// rebuildUsage recounts usage_daily from the entries when it is empty
// while entries exist: the counts are derived data, and a ledger file whose
// entries predate the table, or whose counts an operator cleared, gets them
// back on open. It runs on every open, after the migrations, and changes
// nothing while counts are present.
const rebuildUsage = `
INSERT INTO usage_daily(day, tenant, key_id, class, count)
SELECT day, tenant, key_id, class, COUNT(*) FROM ledger
WHERE NOT EXISTS (SELECT 1 FROM usage_daily)
GROUP BY day, tenant, key_id, class`

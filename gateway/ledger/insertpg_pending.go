package ledger

// TEMPORARY (branch h-sess): a stand-in for the PostgreSQL ledger's
// InsertPGTx (branch h-ledger) so the sessions' shared store compiles and
// runs here. Drop this file when merging h-ledger, whose InsertPGTx has
// the same signature and writes the real entries table.

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// InsertPGTx writes one entry inside the caller's PostgreSQL transaction
// (stand-in: a minimal table, request ids stored once).
func InsertPGTx(ctx context.Context, tx pgx.Tx, e Entry) error {
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS ledger_entries_pending (
		request_id TEXT PRIMARY KEY, day TEXT NOT NULL, tenant TEXT NOT NULL, key_id TEXT NOT NULL,
		route TEXT NOT NULL, result TEXT NOT NULL, class TEXT NOT NULL, billed BOOLEAN NOT NULL)`); err != nil {
		return fmt.Errorf("ledger: postgres: insert in transaction: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO ledger_entries_pending VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (request_id) DO NOTHING`,
		e.RequestID, e.Day, e.Tenant, e.KeyID, e.Route, e.Result, e.Class, e.Billed); err != nil {
		return fmt.Errorf("ledger: postgres: insert in transaction: %w", err)
	}
	return nil
}

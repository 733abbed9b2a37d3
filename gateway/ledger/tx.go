package ledger

import (
	"context"
	"database/sql"
	"fmt"
)

// InsertTx writes one entry and its usage_daily count inside the caller's
// transaction, bypassing the queue. It is for the rare entry that must be
// durable together with the caller's own state — a verification session's
// single billing event, stored in the same transaction that marks the
// session billed, so a crash can neither lose it nor let it be written
// twice. Ordinary requests use Record.
func InsertTx(ctx context.Context, tx *sql.Tx, e Entry) error {
	var dim int64
	if err := tx.QueryRowContext(ctx, upsertDim, dimOf(&e).args()...).Scan(&dim); err != nil {
		return fmt.Errorf("ledger: dims in transaction: %w", err)
	}
	row := entryRow(&e, dim)
	if _, err := tx.ExecContext(ctx, insertEntriesSQL(1), row[:]...); err != nil {
		return fmt.Errorf("ledger: insert in transaction: %w", err)
	}
	if _, err := tx.ExecContext(ctx, upsertUsage, e.Day, e.Tenant, e.KeyID, e.Class, 1); err != nil {
		return fmt.Errorf("ledger: usage in transaction: %w", err)
	}
	return nil
}

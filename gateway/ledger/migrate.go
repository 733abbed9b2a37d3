package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The ledger's schema is versioned. migrations (schema.go) is an ordered
// list of steps numbered 1, 2, …; the table ledger_schema_migrations holds
// one row per step applied, and the database's version is the highest
// one. Opening a database applies, in order, every step above its version,
// each in its own transaction together with its row: a step is applied
// exactly once, and a failed or interrupted step leaves the database at
// the version before it, with nothing of the step kept.
//
// The version is a table of the ledger's own rather than PRAGMA
// user_version because the database file is shared: the key store and the
// verification sessions keep their tables in it too.
//
// A database with no version recorded is at version 0: it is new, or was
// made before versions were recorded, which is why step 1 creates only
// what is missing (createLedger).

// migration is one numbered schema step.
type migration struct {
	version int
	name    string
	apply   func(ctx context.Context, tx schemaTx) error
}

// schemaTx is the open transaction a step runs in.
type schemaTx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const migrationsTable = `
CREATE TABLE IF NOT EXISTS ledger_schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at INTEGER NOT NULL -- unix nanoseconds
)`

// migrate brings db to the last version of steps. It refuses a database
// whose version is higher than steps know: a newer gateway wrote it, and
// this one cannot tell what its tables hold.
func migrate(ctx context.Context, db *sql.DB, steps []migration) error {
	for i, m := range steps {
		if m.version != i+1 {
			return fmt.Errorf("ledger: migration %q is numbered %d, want %d", m.name, m.version, i+1)
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("ledger: migrate: %w", err)
	}
	defer conn.Close()
	v, err := schemaVersion(ctx, conn)
	if err != nil {
		return fmt.Errorf("ledger: migrate: %w", err)
	}
	if v > len(steps) {
		return fmt.Errorf("ledger: migrate: %w", newerSchema(v, len(steps)))
	}
	for _, m := range steps[v:] {
		if err := applyStep(ctx, conn, m, len(steps)); err != nil {
			return err
		}
	}
	return nil
}

// applyStep applies m unless the database already has it: another process
// opening the same file may have applied it since the version was read.
// BEGIN IMMEDIATE takes the write lock before the version is read again,
// so two openers apply a step once between them.
func applyStep(ctx context.Context, conn *sql.Conn, m migration, latest int) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("ledger: migrate to version %d (%s): %w", m.version, m.name, err)
		}
	}()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	v, err := schemaVersion(ctx, conn)
	if err != nil {
		return err
	}
	if v > latest {
		return newerSchema(v, latest)
	}
	if v < m.version {
		if _, err := conn.ExecContext(ctx, migrationsTable); err != nil {
			return err
		}
		if err := m.apply(ctx, conn); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO ledger_schema_migrations(version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UnixNano()); err != nil {
			return err
		}
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}

// schemaVersion is the highest step recorded, 0 when none is.
func schemaVersion(ctx context.Context, q schemaTx) (int, error) {
	var tables int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'ledger_schema_migrations'`).Scan(&tables); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if tables == 0 {
		return 0, nil
	}
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM ledger_schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

func newerSchema(v, latest int) error {
	return fmt.Errorf("database schema version %d is newer than this gateway's %d", v, latest)
}

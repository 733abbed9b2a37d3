package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The fleet's ledger in PostgreSQL keeps the rows and columns of SQLite's
// (schema.go), in the schema the pool's search_path names. Entries are one
// wide table: PostgreSQL's writer is not the gateway's CPU, so SQLite's
// narrow layout buys nothing here. A request's entry is unique by request
// id, which makes every replay idempotent; its resolution (resolve.go),
// which keeps the request id of the unknown entry it resolves, is the one
// other entry a request id may have, hence the unique pair (request_id,
// resolution). usage_daily is kept in the same statement as the entries,
// so BilledOn reads a few rows per day. Text sorts bytewise (COLLATE "C"),
// as in SQLite: the reports list rows in the same order.
//
// Versions are recorded as in SQLite (migrate.go): one row per applied
// step in ledger_schema_migrations; replicas opening the same schema apply
// each step once between them (an advisory lock held by the transaction).

// pgMigration is one numbered schema step in PostgreSQL.
type pgMigration struct {
	version int
	name    string
	sql     string
}

// pgMigrations are the PostgreSQL ledger's schema versions, in order. A
// released step never changes.
var pgMigrations = []pgMigration{
	{version: 1, name: "entries, daily usage and the ledger view", sql: pgLedgerV1},
}

const pgLedgerV1 = `
CREATE TABLE IF NOT EXISTS ledger_entries (
	id          bigserial PRIMARY KEY,
	ts          bigint  NOT NULL, -- unix nanoseconds
	day         text    COLLATE "C" NOT NULL,
	request_id  text    COLLATE "C" NOT NULL,
	tenant      text    COLLATE "C" NOT NULL,
	key_id      text    COLLATE "C" NOT NULL,
	route       text    COLLATE "C" NOT NULL,
	result      text    COLLATE "C" NOT NULL,
	class       text    COLLATE "C" NOT NULL,
	billed      boolean NOT NULL,
	http_status integer NOT NULL,
	upstream_us bigint  NOT NULL,
	id_masked   text    COLLATE "C" NOT NULL,
	attempts    integer NOT NULL,
	upstream_id text    COLLATE "C" NOT NULL,
	resolution  boolean GENERATED ALWAYS AS (class IN ('resolved_billed', 'resolved_not_billed')) STORED,
	CONSTRAINT ledger_entries_request UNIQUE (request_id, resolution)
);
CREATE INDEX IF NOT EXISTS ledger_entries_day_tenant ON ledger_entries (day, tenant);
-- The resolved request ids Unresolved reads, without scanning the ledger.
CREATE INDEX IF NOT EXISTS ledger_entries_resolutions ON ledger_entries (request_id)
	WHERE class IN ('resolved_billed', 'resolved_not_billed');
CREATE TABLE IF NOT EXISTS usage_daily (
	day    text   COLLATE "C" NOT NULL,
	tenant text   COLLATE "C" NOT NULL,
	key_id text   COLLATE "C" NOT NULL,
	class  text   COLLATE "C" NOT NULL,
	count  bigint NOT NULL,
	PRIMARY KEY (day, tenant, key_id, class)
);
-- The ledger as SQLite's view shows it: billed is 0 or 1.
CREATE OR REPLACE VIEW ledger AS
SELECT id, ts, day, request_id, tenant, key_id, route, result, class,
       billed::integer AS billed, http_status, upstream_us, id_masked, attempts, upstream_id
FROM ledger_entries;
`

const pgMigrationsTable = `
CREATE TABLE IF NOT EXISTS ledger_schema_migrations (
	version    integer PRIMARY KEY,
	name       text    NOT NULL,
	applied_at bigint  NOT NULL -- unix nanoseconds
)`

// MigratePostgres brings the pool's schema to the last PostgreSQL ledger
// version, in one transaction, and refuses a schema a newer gateway
// wrote. OpenPostgres calls it; code that writes entries with InsertPGTx
// without a ledger open (tests) calls it first.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.idgate_ledger'))`); err != nil {
			return fmt.Errorf("ledger: postgres: migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, pgMigrationsTable); err != nil {
			return fmt.Errorf("ledger: postgres: migrate: %w", err)
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM ledger_schema_migrations`).Scan(&v); err != nil {
			return fmt.Errorf("ledger: postgres: migrate: %w", err)
		}
		if v > len(pgMigrations) {
			return fmt.Errorf("ledger: postgres: migrate: %w", newerSchema(v, len(pgMigrations)))
		}
		for _, m := range pgMigrations[v:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("ledger: postgres: migrate to version %d (%s): %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO ledger_schema_migrations(version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("ledger: postgres: migrate to version %d (%s): %w", m.version, m.name, err)
			}
		}
		return nil
	})
}

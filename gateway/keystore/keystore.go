// Package keystore persists key changes made through the admin API
// (create, disable, rotate) next to the ledger, so they survive restarts and
// SIGHUP reloads of the config file. Only digests are stored.
package keystore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/idgate/idgate/gateway/auth"
)

const schema = `
CREATE TABLE IF NOT EXISTS api_keys (
	id          TEXT PRIMARY KEY,
	tenant      TEXT    NOT NULL,
	sha256      BLOB    NOT NULL,
	disabled    INTEGER NOT NULL,
	rate        REAL    NOT NULL,
	burst       INTEGER NOT NULL,
	daily_quota INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);`

// SQLite is the key store.
type SQLite struct{ db *sql.DB }

// New creates the table if needed.
func New(db *sql.DB) (*SQLite, error) {
	if _, err := db.Exec(schema); err != nil {
		return nil, fmt.Errorf("keystore: schema: %w", err)
	}
	return &SQLite{db: db}, nil
}

// Overrides lists every stored key change.
func (s *SQLite) Overrides(ctx context.Context) ([]auth.Override, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, tenant, sha256, disabled, rate, burst, daily_quota FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("keystore: list: %w", err)
	}
	defer rows.Close()
	var out []auth.Override
	for rows.Next() {
		var o auth.Override
		var digest []byte
		var disabled int
		if err := rows.Scan(&o.KeyID, &o.TenantID, &digest, &disabled, &o.Rate, &o.Burst, &o.DailyQuota); err != nil {
			return nil, fmt.Errorf("keystore: list: %w", err)
		}
		copy(o.Digest[:], digest)
		o.Disabled = disabled == 1
		out = append(out, o)
	}
	return out, rows.Err()
}

// Put stores (inserts or replaces) one key's state.
func (s *SQLite) Put(ctx context.Context, o auth.Override) error {
	disabled := 0
	if o.Disabled {
		disabled = 1
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_keys(id, tenant, sha256, disabled, rate, burst, daily_quota, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET tenant=excluded.tenant, sha256=excluded.sha256, disabled=excluded.disabled,
			rate=excluded.rate, burst=excluded.burst, daily_quota=excluded.daily_quota, updated_at=excluded.updated_at`,
		o.KeyID, o.TenantID, o.Digest[:], disabled, o.Rate, o.Burst, o.DailyQuota, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("keystore: put %s: %w", o.KeyID, err)
	}
	return nil
}

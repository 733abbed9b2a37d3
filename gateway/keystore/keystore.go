// Package keystore persists key changes made through the admin API
// (create, disable, rotate) next to the ledger, so they survive restarts and
// SIGHUP reloads of the config file. Bearer keys are stored as digests
// only. A Tencent pair's SecretKey cannot be (a signature is verified with
// the secret itself), so it is stored sealed with AES-256-GCM under the
// configured key (auth.secret_encryption_key) and opened into memory when
// the store is read: the database file alone never reveals it.
package keystore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/internal/secret"
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

// pairColumns are the Tencent pair's columns, added to a table made
// before pairs existed: the SecretId in plain (it names the key, like its
// id) and the SecretKey sealed (nonce ‖ ciphertext ‖ tag).
var pairColumns = []struct{ name, decl string }{
	{"secret_id", "TEXT NOT NULL DEFAULT ''"},
	{"secret_key_sealed", "BLOB"},
}

// ErrNoSealingKey refuses to store or read a Tencent pair without
// auth.secret_encryption_key.
var ErrNoSealingKey = errors.New("keystore: a Tencent pair needs auth.secret_encryption_key (its SecretKey is stored sealed with it)")

// SQLite is the key store.
type SQLite struct {
	db     *sql.DB
	sealer *Sealer // nil: no sealing key configured
}

// New creates or upgrades the table. key seals the Tencent SecretKeys (nil:
// none configured; then a stored pair is an error when read or written).
func New(db *sql.DB, key []byte) (*SQLite, error) {
	s := &SQLite{db: db}
	if key != nil {
		var err error
		if s.sealer, err = NewSealer(key); err != nil {
			return nil, err
		}
	}
	if _, err := db.Exec(schema); err != nil {
		return nil, fmt.Errorf("keystore: schema: %w", err)
	}
	have := map[string]bool{}
	rows, err := db.Query(`SELECT name FROM pragma_table_info('api_keys')`)
	if err != nil {
		return nil, fmt.Errorf("keystore: schema: %w", err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("keystore: schema: %w", err)
		}
		have[strings.ToLower(name)] = true
	}
	rows.Close()
	for _, c := range pairColumns {
		if have[c.name] {
			continue
		}
		if _, err := db.Exec(`ALTER TABLE api_keys ADD COLUMN ` + c.name + ` ` + c.decl); err != nil {
			return nil, fmt.Errorf("keystore: schema: add %s: %w", c.name, err)
		}
	}
	return s, nil
}

// Overrides lists every stored key change, SecretKeys opened.
func (s *SQLite) Overrides(ctx context.Context) ([]auth.Override, error) {
	rows, err := s.db.QueryContext(ctx, listOverrides)
	if err != nil {
		return nil, fmt.Errorf("keystore: list: %w", err)
	}
	defer rows.Close()
	return readOverrides(rows, s.sealer)
}

// listOverrides reads every key change, in the column order scanOverride
// takes: the same query for both stores.
const listOverrides = `SELECT id, tenant, sha256, disabled, rate, burst, daily_quota, secret_id, secret_key_sealed FROM api_keys ORDER BY id`

// resultRows is what both drivers' query results offer.
type resultRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// readOverrides reads every row of listOverrides.
func readOverrides(r resultRows, sealer *Sealer) ([]auth.Override, error) {
	var out []auth.Override
	for r.Next() {
		o, err := scanOverride(r.Scan, sealer)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("keystore: list: %w", err)
	}
	return out, nil
}

// scanOverride reads one row of listOverrides, its pair opened (both
// drivers read the disabled column, an integer or a boolean, as a bool).
func scanOverride(scan func(dest ...any) error, sealer *Sealer) (auth.Override, error) {
	var o auth.Override
	var digest, sealed []byte
	if err := scan(&o.KeyID, &o.TenantID, &digest, &o.Disabled, &o.Rate, &o.Burst, &o.DailyQuota, &o.SecretID, &sealed); err != nil {
		return o, fmt.Errorf("keystore: list: %w", err)
	}
	copy(o.Digest[:], digest)
	return o, openPair(sealer, &o, sealed)
}

// Put stores (inserts or replaces) one key's state. A pair's SecretKey is
// sealed before it reaches the database.
func (s *SQLite) Put(ctx context.Context, o auth.Override) error {
	disabled := 0
	if o.Disabled {
		disabled = 1
	}
	sealed, err := sealPair(s.sealer, o)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO api_keys(id, tenant, sha256, disabled, rate, burst, daily_quota, updated_at, secret_id, secret_key_sealed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET tenant=excluded.tenant, sha256=excluded.sha256, disabled=excluded.disabled,
			rate=excluded.rate, burst=excluded.burst, daily_quota=excluded.daily_quota, updated_at=excluded.updated_at,
			secret_id=excluded.secret_id, secret_key_sealed=excluded.secret_key_sealed`,
		o.KeyID, o.TenantID, o.Digest[:], disabled, o.Rate, o.Burst, o.DailyQuota, time.Now().UnixNano(), o.SecretID, sealed)
	if err != nil {
		return fmt.Errorf("keystore: put %s: %w", o.KeyID, err)
	}
	return nil
}

// CanSeal reports whether the store can keep a Tencent pair.
func (s *SQLite) CanSeal() bool { return s.sealer != nil }

// sealPair seals o's SecretKey for storage (nil when o has no pair).
func sealPair(sealer *Sealer, o auth.Override) ([]byte, error) {
	if o.SecretID == "" {
		return nil, nil
	}
	if sealer == nil {
		return nil, fmt.Errorf("keystore: put %s: %w", o.KeyID, ErrNoSealingKey)
	}
	sealed, err := sealer.Seal([]byte(o.SecretKey.Reveal()), pairAD(o.KeyID, o.SecretID))
	if err != nil {
		return nil, fmt.Errorf("keystore: put %s: %w", o.KeyID, err)
	}
	return sealed, nil
}

// openPair opens the stored SecretKey of o's pair into o.
func openPair(sealer *Sealer, o *auth.Override, sealed []byte) error {
	if o.SecretID == "" {
		return nil
	}
	if sealer == nil {
		return fmt.Errorf("keystore: key %s: %w", o.KeyID, ErrNoSealingKey)
	}
	plain, err := sealer.Open(sealed, pairAD(o.KeyID, o.SecretID))
	if err != nil {
		return fmt.Errorf("keystore: key %s: %w", o.KeyID, err)
	}
	o.SecretKey = secret.Secret(plain)
	return nil
}

// pairAD binds a sealed SecretKey to its key and SecretId: a sealed value
// copied onto another row does not open.
func pairAD(keyID, secretID string) []byte {
	return []byte("idgate keystore v1\x00" + keyID + "\x00" + secretID)
}

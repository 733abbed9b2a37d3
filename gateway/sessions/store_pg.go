package sessions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/stores"
)

// Fleet is a Store shared by the replicas of a fleet (Postgres). With one,
// a Service loads a session another replica created on demand, settles
// only the outcomes its own compare-and-set won, and reconciles the
// sessions the store hands it (ClaimDue) rather than the ones it holds in
// memory.
type Fleet interface {
	Store
	// ClaimDue hands this replica up to limit open sessions whose QR
	// deadline passed more than overdue ago and that no replica claimed in
	// the last every, and marks them claimed: each is polled upstream by
	// one replica per period, whichever replica created it and whether or
	// not that one still runs.
	ClaimDue(ctx context.Context, overdue, every time.Duration, limit int) ([]Record, error)
}

// InsertEntry writes a ledger entry inside a PostgreSQL transaction
// (ledger.InsertPGTx): a session's billing event commits with its status.
type InsertEntry func(ctx context.Context, tx pgx.Tx, e ledger.Entry) error

const pgStoreSchema = `
CREATE TABLE IF NOT EXISTS gateway_sessions (
	request_id   TEXT        PRIMARY KEY,
	tenant       TEXT        NOT NULL,
	key_id       TEXT        NOT NULL,
	status       TEXT        NOT NULL,
	day          TEXT        NOT NULL,
	lease        TEXT        NOT NULL DEFAULT '',
	epoch        TEXT        NOT NULL DEFAULT '',
	callback_url TEXT        NOT NULL,
	id_masked    TEXT        NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	expires_at   TIMESTAMPTZ NOT NULL,
	settled_at   TIMESTAMPTZ,
	-- the reconciler's claim: no replica polls the session again before it
	claim_until  TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS gateway_sessions_created ON gateway_sessions(created_at);
CREATE INDEX IF NOT EXISTS gateway_sessions_open ON gateway_sessions(expires_at) WHERE status = 'open';
`

// Postgres is the Store of a fleet: the SQLite store's records and
// compare-and-set in PostgreSQL, with the ledger entry of a billing event
// written by insert in the transaction of the status change.
type Postgres struct {
	pool   *pgxpool.Pool
	guard  *stores.Guard // bounds the calls on a request's path; nil: none
	insert InsertEntry
}

// NewPostgres creates the table if needed in the pool's schema. guard (nil
// for none) bounds Get, Insert and Transition, the calls a request waits
// for.
func NewPostgres(ctx context.Context, pool *pgxpool.Pool, guard *stores.Guard, insert InsertEntry) (*Postgres, error) {
	if err := migratePG(ctx, pool, "idgate sessions schema", pgStoreSchema); err != nil {
		return nil, fmt.Errorf("sessions: postgres: schema: %w", err)
	}
	return &Postgres{pool: pool, guard: guard, insert: insert}, nil
}

// migratePG runs ddl under a transaction-scoped advisory lock: replicas
// starting together would race on CREATE TABLE IF NOT EXISTS.
func migratePG(ctx context.Context, pool *pgxpool.Pool, lock, ddl string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, lock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, ddl)
		return err
	})
}

// guarded runs fn under the guard (timeout and breaker) when there is one.
func guarded(ctx context.Context, g *stores.Guard, fn func(ctx context.Context) error) error {
	if g == nil {
		return fn(ctx)
	}
	return g.Do(ctx, fn)
}

const pgSelectRecord = `SELECT request_id, tenant, key_id, status, day, lease, epoch, callback_url, id_masked, created_at, expires_at, settled_at FROM gateway_sessions`
const pgRecordColumns = `request_id, tenant, key_id, status, day, lease, epoch, callback_url, id_masked, created_at, expires_at, settled_at`

func scanPGRecord(sc scanner) (Record, error) {
	var r Record
	var st string
	var settled *time.Time
	if err := sc.Scan(&r.RequestID, &r.Tenant, &r.KeyID, &st, &r.Day, &r.Lease, &r.Epoch, &r.Callback, &r.IDMasked, &r.CreatedAt, &r.ExpiresAt, &settled); err != nil {
		return Record{}, err
	}
	r.Status = Status(st)
	if settled != nil {
		r.SettledAt = *settled
	}
	return r, nil
}

func collectPG(rows pgx.Rows) ([]Record, error) {
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanPGRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// LoadLive returns the open and expired sessions of the whole fleet.
func (s *Postgres) LoadLive(ctx context.Context) ([]Record, error) {
	rows, err := s.pool.Query(ctx, pgSelectRecord+` WHERE status IN ('open', 'expired')`)
	if err != nil {
		return nil, fmt.Errorf("sessions: load: %w", err)
	}
	out, err := collectPG(rows)
	if err != nil {
		return nil, fmt.Errorf("sessions: load: %w", err)
	}
	return out, nil
}

// OpenOn counts the open sessions of tenant on day per key, across the
// fleet; see Store. The caller bounds it (the quota seed runs it under the
// PostgreSQL guard).
func (s *Postgres) OpenOn(ctx context.Context, tenant, day string) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT key_id, COUNT(*) FROM gateway_sessions WHERE status = 'open' AND tenant = $1 AND day = $2 GROUP BY key_id`, tenant, day)
	if err != nil {
		return nil, fmt.Errorf("sessions: open on %s: %w", day, err)
	}
	defer rows.Close()
	return countByKey(rows, day)
}

// Get finds one session.
func (s *Postgres) Get(ctx context.Context, id string) (r Record, ok bool, err error) {
	err = guarded(ctx, s.guard, func(ctx context.Context) error {
		var e error
		r, e = scanPGRecord(s.pool.QueryRow(ctx, pgSelectRecord+` WHERE request_id = $1`, id))
		if errors.Is(e, pgx.ErrNoRows) {
			return nil
		}
		ok = e == nil
		return e
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("sessions: get %s: %w", id, err)
	}
	return r, ok, nil
}

// Insert stores a new session.
func (s *Postgres) Insert(ctx context.Context, r Record) error {
	err := guarded(ctx, s.guard, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `INSERT INTO gateway_sessions(request_id, tenant, key_id, status, day, lease, epoch, callback_url, id_masked, created_at, expires_at, claim_until)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10)`,
			r.RequestID, r.Tenant, r.KeyID, string(r.Status), r.Day, r.Lease, r.Epoch, r.Callback, r.IDMasked, r.CreatedAt, r.ExpiresAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("sessions: insert %s: %w", r.RequestID, err)
	}
	return nil
}

// Transition is the compare-and-set; see Store. Replicas racing to settle
// one session serialise on its row: exactly one UPDATE matches status
// from, and only its transaction writes the ledger entry.
func (s *Postgres) Transition(ctx context.Context, id string, from, to Status, reopen quota.Ticket, at time.Time, entry *ledger.Entry) (ok bool, err error) {
	var settled *time.Time
	if to.Final() {
		settled = &at
	}
	err = guarded(ctx, s.guard, func(ctx context.Context) error {
		ok = false
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var tag interface{ RowsAffected() int64 }
			var err error
			if reopen.Day != "" {
				tag, err = tx.Exec(ctx, `UPDATE gateway_sessions SET status = $1, settled_at = $2, day = $3, lease = $4, epoch = $5 WHERE request_id = $6 AND status = $7`,
					string(to), settled, reopen.Day, reopen.Lease, reopen.Epoch, id, string(from))
			} else {
				tag, err = tx.Exec(ctx, `UPDATE gateway_sessions SET status = $1, settled_at = $2 WHERE request_id = $3 AND status = $4`,
					string(to), settled, id, string(from))
			}
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return nil // rolled back: nothing changed
			}
			if entry != nil {
				if err := s.insert(ctx, tx, *entry); err != nil {
					return err
				}
			}
			ok = true
			return nil
		})
	})
	if err != nil {
		return false, fmt.Errorf("sessions: %s → %s: %w", from, to, err)
	}
	return ok, nil
}

// Sweep deletes sessions created before cutoff.
func (s *Postgres) Sweep(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM gateway_sessions WHERE created_at < $1`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("sessions: sweep: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ClaimDue is Fleet's; times are PostgreSQL's clock, one for the fleet.
// SKIP LOCKED: replicas claiming together take disjoint sessions.
func (s *Postgres) ClaimDue(ctx context.Context, overdue, every time.Duration, limit int) ([]Record, error) {
	rows, err := s.pool.Query(ctx, `UPDATE gateway_sessions SET claim_until = now() + $2 * interval '1 microsecond'
		WHERE request_id IN (
			SELECT request_id FROM gateway_sessions
			WHERE status = 'open' AND expires_at < now() - $1 * interval '1 microsecond' AND claim_until <= now()
			ORDER BY expires_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING `+pgRecordColumns, overdue.Microseconds(), every.Microseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("sessions: claim: %w", err)
	}
	out, err := collectPG(rows)
	if err != nil {
		return nil, fmt.Errorf("sessions: claim: %w", err)
	}
	return out, nil
}

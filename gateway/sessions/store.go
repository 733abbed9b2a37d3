package sessions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
)

// Status is where a session stands for billing.
type Status string

const (
	// Open: a quota unit is reserved; the outcome is not known yet.
	Open Status = "open"
	// Expired: the QR deadline passed; the unit is released. Regenerating
	// the QR code reserves a unit again and reopens the session.
	Expired Status = "expired"
	// Billed: the one billing event is in the ledger. Final.
	Billed Status = "billed"
	// Released: it ended unbilled (failed, or rejected with 2005). Final.
	Released Status = "released"
)

// Final reports whether no transition leaves s.
func (s Status) Final() bool { return s == Billed || s == Released }

// Record is one session as the gateway remembers it. It holds no name and
// only the masked ID number.
type Record struct {
	RequestID string
	Tenant    string
	KeyID     string
	Status    Status
	// Day is the quota day of the current reservation.
	Day string
	// Callback is the tenant's own callback_url ("" when none).
	Callback  string
	IDMasked  string
	CreatedAt time.Time
	ExpiresAt time.Time
	SettledAt time.Time
	// Lease and Epoch name the quota reservation an open session holds in
	// a shared quota (quota.Ticket's), so any replica can settle it
	// (TicketOf, which rebuilds the ticket without the epoch: the epoch
	// is kept for diagnosis only). The embedded store does not keep them:
	// its one process holds the tickets in memory.
	Lease, Epoch string
}

// TicketOf is the quota ticket an open session holds, rebuilt from its
// record: the reservation is named by its day, tenant, key and lease, so
// the replica that settles it need not be the one that reserved it. Its
// Epoch is empty: a session in the store is one a reseeding counts among
// the open sessions, so its commit after a reseed (its lease gone) must
// not add a second unit; before one, the lease is there and the commit
// counts it.
func TicketOf(r Record) quota.Ticket {
	if r.Status != Open || r.Day == "" {
		return quota.Ticket{}
	}
	return quota.Ticket{Day: r.Day, Tenant: r.Tenant, Key: r.KeyID, Lease: r.Lease}
}

// Store keeps session records durably. Transitions are compare-and-set on
// the status, so a billing event is written at most once per request ID no
// matter how many pollers, webhooks or processes race to it.
type Store interface {
	// LoadLive returns the sessions not settled yet (open or expired).
	LoadLive(ctx context.Context) ([]Record, error)
	// OpenOn counts, per key, the open sessions of tenant whose
	// reservation is on day: each holds a quota unit until its outcome is
	// known. Expired sessions are not counted (their unit was released).
	OpenOn(ctx context.Context, tenant, day string) (map[string]int64, error)
	// Get finds one session; ok is false when it is unknown.
	Get(ctx context.Context, id string) (r Record, ok bool, err error)
	Insert(ctx context.Context, r Record) error
	// Transition moves a session from one status to another and, when
	// entry is not nil, writes it to the ledger in the same transaction.
	// A reopened session (expired → open) passes the reservation it now
	// holds as reopen (its day and, for a shared quota, its lease); zero
	// otherwise. ok is false when the session was not in status from.
	Transition(ctx context.Context, id string, from, to Status, reopen quota.Ticket, at time.Time, entry *ledger.Entry) (ok bool, err error)
	// Sweep forgets sessions created before cutoff.
	Sweep(ctx context.Context, cutoff time.Time) (int64, error)
}

const storeSchema = `
CREATE TABLE IF NOT EXISTS gateway_sessions (
	request_id   TEXT    PRIMARY KEY,
	tenant       TEXT    NOT NULL,
	key_id       TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	day          TEXT    NOT NULL,
	callback_url TEXT    NOT NULL,
	id_masked    TEXT    NOT NULL,
	created_at   INTEGER NOT NULL, -- unix nanoseconds
	expires_at   INTEGER NOT NULL,
	settled_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gateway_sessions_created ON gateway_sessions(created_at);
`

// SQLite is the Store in the ledger's database: the billing event and the
// session's status change commit together.
type SQLite struct{ db *sql.DB }

// NewSQLite creates the table if needed.
func NewSQLite(db *sql.DB) (*SQLite, error) {
	if _, err := db.Exec(storeSchema); err != nil {
		return nil, fmt.Errorf("sessions: schema: %w", err)
	}
	return &SQLite{db: db}, nil
}

const selectRecord = `SELECT request_id, tenant, key_id, status, day, callback_url, id_masked, created_at, expires_at, settled_at FROM gateway_sessions`

type scanner interface{ Scan(dest ...any) error }

func scanRecord(sc scanner) (Record, error) {
	var r Record
	var st string
	var c, e, set int64
	if err := sc.Scan(&r.RequestID, &r.Tenant, &r.KeyID, &st, &r.Day, &r.Callback, &r.IDMasked, &c, &e, &set); err != nil {
		return Record{}, err
	}
	r.Status, r.CreatedAt, r.ExpiresAt = Status(st), time.Unix(0, c), time.Unix(0, e)
	if set != 0 {
		r.SettledAt = time.Unix(0, set)
	}
	return r, nil
}

// LoadLive returns the open and expired sessions.
func (s *SQLite) LoadLive(ctx context.Context) ([]Record, error) {
	rows, err := s.db.QueryContext(ctx, selectRecord+` WHERE status IN ('open', 'expired')`)
	if err != nil {
		return nil, fmt.Errorf("sessions: load: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("sessions: load: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// OpenOn counts the open sessions of tenant on day per key; see Store.
func (s *SQLite) OpenOn(ctx context.Context, tenant, day string) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key_id, COUNT(*) FROM gateway_sessions WHERE status = 'open' AND tenant = ? AND day = ? GROUP BY key_id`, tenant, day)
	if err != nil {
		return nil, fmt.Errorf("sessions: open on %s: %w", day, err)
	}
	defer rows.Close()
	return countByKey(rows, day)
}

// countByKey collects the (key, count) rows of an OpenOn query (database/sql
// and pgx rows alike).
func countByKey(rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}, day string) (map[string]int64, error) {
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("sessions: open on %s: %w", day, err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sessions: open on %s: %w", day, err)
	}
	return out, nil
}

// Get finds one session.
func (s *SQLite) Get(ctx context.Context, id string) (Record, bool, error) {
	r, err := scanRecord(s.db.QueryRowContext(ctx, selectRecord+` WHERE request_id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Record{}, false, nil
	case err != nil:
		return Record{}, false, fmt.Errorf("sessions: get %s: %w", id, err)
	}
	return r, true, nil
}

// Insert stores a new session.
func (s *SQLite) Insert(ctx context.Context, r Record) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO gateway_sessions(request_id, tenant, key_id, status, day, callback_url, id_masked, created_at, expires_at, settled_at) VALUES (?,?,?,?,?,?,?,?,?,0)`,
		r.RequestID, r.Tenant, r.KeyID, string(r.Status), r.Day, r.Callback, r.IDMasked, r.CreatedAt.UnixNano(), r.ExpiresAt.UnixNano())
	if err != nil {
		return fmt.Errorf("sessions: insert %s: %w", r.RequestID, err)
	}
	return nil
}

// Transition is the compare-and-set; see Store.
func (s *SQLite) Transition(ctx context.Context, id string, from, to Status, reopen quota.Ticket, at time.Time, entry *ledger.Entry) (ok bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sessions: %s → %s: %w", from, to, err)
	}
	defer func() {
		if err != nil || !ok {
			_ = tx.Rollback()
		}
	}()
	settled := int64(0)
	if to.Final() {
		settled = at.UnixNano()
	}
	q := `UPDATE gateway_sessions SET status = ?, settled_at = ? WHERE request_id = ? AND status = ?`
	args := []any{string(to), settled, id, string(from)}
	if day := reopen.Day; day != "" {
		q = `UPDATE gateway_sessions SET status = ?, settled_at = ?, day = ? WHERE request_id = ? AND status = ?`
		args = []any{string(to), settled, day, id, string(from)}
	}
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("sessions: %s → %s: %w", from, to, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sessions: %s → %s: %w", from, to, err)
	}
	if n != 1 {
		return false, nil
	}
	if entry != nil {
		if err = ledger.InsertTx(ctx, tx, *entry); err != nil {
			return false, err
		}
	}
	if err = tx.Commit(); err != nil {
		return false, fmt.Errorf("sessions: %s → %s: commit: %w", from, to, err)
	}
	return true, nil
}

// Sweep deletes sessions created before cutoff.
func (s *SQLite) Sweep(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM gateway_sessions WHERE created_at < ?`, cutoff.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("sessions: sweep: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, errors.Join(fmt.Errorf("sessions: sweep"), err)
	}
	return n, nil
}

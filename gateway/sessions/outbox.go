package sessions

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Outbox keeps webhook deliveries to tenants until they succeed or run out
// of attempts, so an event the gateway accepted from the upstream (204)
// survives a restart or a crash. Rows are keyed by (event ID, callback):
// the upstream re-sending an event still pending adds nothing.
type Outbox interface {
	// Add stores a new delivery; added is false for one already pending.
	Add(ctx context.Context, d Delivery) (added bool, err error)
	// Retry records a failed attempt and when to try again.
	Retry(ctx context.Context, eventID, url string, attempt int, next time.Time) error
	// Done forgets a delivery (delivered, or given up).
	Done(ctx context.Context, eventID, url string) error
	// Pending lists every delivery left, for the next start.
	Pending(ctx context.Context) ([]Delivery, error)
}

// Delivery is one event on its way to one tenant callback.
type Delivery struct {
	EventID string
	Tenant  string
	URL     string
	Body    []byte
	// Attempt counts the attempts made so far.
	Attempt int
	Next    time.Time
	// Claim is the holder's token in a ClaimingOutbox ("" elsewhere).
	Claim string
}

const outboxSchema = `
CREATE TABLE IF NOT EXISTS gateway_webhook_outbox (
	event_id TEXT    NOT NULL,
	url      TEXT    NOT NULL,
	tenant   TEXT    NOT NULL,
	body     BLOB    NOT NULL,
	attempt  INTEGER NOT NULL,
	next_at  INTEGER NOT NULL, -- unix nanoseconds
	PRIMARY KEY (event_id, url)
) WITHOUT ROWID;
`

// SQLiteOutbox is the Outbox in the ledger's database.
type SQLiteOutbox struct{ db *sql.DB }

// NewSQLiteOutbox creates the table if needed.
func NewSQLiteOutbox(db *sql.DB) (*SQLiteOutbox, error) {
	if _, err := db.Exec(outboxSchema); err != nil {
		return nil, fmt.Errorf("sessions: outbox schema: %w", err)
	}
	return &SQLiteOutbox{db: db}, nil
}

// Add stores d unless it is pending already.
func (o *SQLiteOutbox) Add(ctx context.Context, d Delivery) (bool, error) {
	res, err := o.db.ExecContext(ctx, `INSERT OR IGNORE INTO gateway_webhook_outbox(event_id, url, tenant, body, attempt, next_at) VALUES (?,?,?,?,?,?)`,
		d.EventID, d.URL, d.Tenant, d.Body, d.Attempt, d.Next.UnixNano())
	if err != nil {
		return false, fmt.Errorf("sessions: outbox add: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sessions: outbox add: %w", err)
	}
	return n == 1, nil
}

// Retry records a failed attempt.
func (o *SQLiteOutbox) Retry(ctx context.Context, eventID, url string, attempt int, next time.Time) error {
	if _, err := o.db.ExecContext(ctx, `UPDATE gateway_webhook_outbox SET attempt = ?, next_at = ? WHERE event_id = ? AND url = ?`,
		attempt, next.UnixNano(), eventID, url); err != nil {
		return fmt.Errorf("sessions: outbox retry: %w", err)
	}
	return nil
}

// Done deletes a delivery.
func (o *SQLiteOutbox) Done(ctx context.Context, eventID, url string) error {
	if _, err := o.db.ExecContext(ctx, `DELETE FROM gateway_webhook_outbox WHERE event_id = ? AND url = ?`, eventID, url); err != nil {
		return fmt.Errorf("sessions: outbox done: %w", err)
	}
	return nil
}

// Pending lists every delivery left, oldest due first.
func (o *SQLiteOutbox) Pending(ctx context.Context) ([]Delivery, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT event_id, url, tenant, body, attempt, next_at FROM gateway_webhook_outbox ORDER BY next_at`)
	if err != nil {
		return nil, fmt.Errorf("sessions: outbox pending: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var next int64
		if err := rows.Scan(&d.EventID, &d.URL, &d.Tenant, &d.Body, &d.Attempt, &next); err != nil {
			return nil, fmt.Errorf("sessions: outbox pending: %w", err)
		}
		d.Next = time.Unix(0, next)
		out = append(out, d)
	}
	return out, rows.Err()
}

package sessions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idgate/idgate/gateway/stores"
)

// ClaimingOutbox is an Outbox several replicas relay from. A delivery is
// sent only by the holder of its claim: a token with a lease, renewed
// (Claim) right before every attempt, so two replicas never send one
// delivery at the same time. A replica that dies leaves its deliveries to
// the others once their leases end (ClaimDue).
type ClaimingOutbox interface {
	Outbox
	// Claim renews the claim prev on a delivery as next, for one lease
	// from now. ok is false when another holder's lease runs, or the
	// delivery is gone (delivered or given up elsewhere); attempt is the
	// stored count of attempts made.
	Claim(ctx context.Context, eventID, url, prev, next string) (attempt int, ok bool, err error)
	// ClaimDue claims up to limit deliveries that are due and whose
	// holder's lease ended, each under a new token (Delivery.Claim).
	ClaimDue(ctx context.Context, limit int) ([]Delivery, error)
}

// newClaim is a fresh claim token.
func newClaim() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

const pgOutboxSchema = `
CREATE TABLE IF NOT EXISTS gateway_webhook_outbox (
	event_id    TEXT        NOT NULL,
	url         TEXT        NOT NULL,
	tenant      TEXT        NOT NULL,
	body        BYTEA       NOT NULL,
	attempt     INTEGER     NOT NULL,
	next_at     TIMESTAMPTZ NOT NULL,
	claim       TEXT        NOT NULL,
	claim_until TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (event_id, url)
);
CREATE INDEX IF NOT EXISTS gateway_webhook_outbox_due ON gateway_webhook_outbox(next_at);
`

// PostgresOutbox is the ClaimingOutbox of a fleet. Lease times are
// PostgreSQL's clock, one for the fleet.
type PostgresOutbox struct {
	pool  *pgxpool.Pool
	guard *stores.Guard // bounds Add, on the webhook's path; nil: none
	lease time.Duration
}

// NewPostgresOutbox creates the table if needed in the pool's schema.
// lease must outlast one delivery attempt (delivery.timeout) with a
// margin: a claim older than that may be taken over.
func NewPostgresOutbox(ctx context.Context, pool *pgxpool.Pool, guard *stores.Guard, lease time.Duration) (*PostgresOutbox, error) {
	if err := migratePG(ctx, pool, "idgate webhook outbox schema", pgOutboxSchema); err != nil {
		return nil, fmt.Errorf("sessions: postgres outbox: schema: %w", err)
	}
	return &PostgresOutbox{pool: pool, guard: guard, lease: lease}, nil
}

func micros(d time.Duration) int64 { return d.Microseconds() }

// Add stores d, claimed by d.Claim for one lease (its adder sends it
// first), unless it is pending already.
func (o *PostgresOutbox) Add(ctx context.Context, d Delivery) (added bool, err error) {
	err = guarded(ctx, o.guard, func(ctx context.Context) error {
		tag, err := o.pool.Exec(ctx, `INSERT INTO gateway_webhook_outbox(event_id, url, tenant, body, attempt, next_at, claim, claim_until)
			VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8 * interval '1 microsecond') ON CONFLICT (event_id, url) DO NOTHING`,
			d.EventID, d.URL, d.Tenant, d.Body, d.Attempt, d.Next, d.Claim, micros(o.lease))
		added = err == nil && tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sessions: outbox add: %w", err)
	}
	return added, nil
}

// Retry records a failed attempt; the holder keeps its claim until one
// lease past next, when it tries again.
func (o *PostgresOutbox) Retry(ctx context.Context, eventID, url string, attempt int, next time.Time) error {
	if _, err := o.pool.Exec(ctx, `UPDATE gateway_webhook_outbox SET attempt = $1, next_at = $2,
		claim_until = greatest(now(), $2) + $3 * interval '1 microsecond' WHERE event_id = $4 AND url = $5`,
		attempt, next, micros(o.lease), eventID, url); err != nil {
		return fmt.Errorf("sessions: outbox retry: %w", err)
	}
	return nil
}

// Done deletes a delivery.
func (o *PostgresOutbox) Done(ctx context.Context, eventID, url string) error {
	if _, err := o.pool.Exec(ctx, `DELETE FROM gateway_webhook_outbox WHERE event_id = $1 AND url = $2`, eventID, url); err != nil {
		return fmt.Errorf("sessions: outbox done: %w", err)
	}
	return nil
}

const pgDeliveryColumns = `event_id, url, tenant, body, attempt, next_at, claim`

func collectDeliveries(rows pgx.Rows) ([]Delivery, error) {
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		if err := rows.Scan(&d.EventID, &d.URL, &d.Tenant, &d.Body, &d.Attempt, &d.Next, &d.Claim); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Pending lists every delivery left in the fleet, oldest due first.
func (o *PostgresOutbox) Pending(ctx context.Context) ([]Delivery, error) {
	rows, err := o.pool.Query(ctx, `SELECT `+pgDeliveryColumns+` FROM gateway_webhook_outbox ORDER BY next_at`)
	if err != nil {
		return nil, fmt.Errorf("sessions: outbox pending: %w", err)
	}
	out, err := collectDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("sessions: outbox pending: %w", err)
	}
	return out, nil
}

// Claim is ClaimingOutbox's: one UPDATE on the row, so of two holders
// renewing at once exactly one matches.
func (o *PostgresOutbox) Claim(ctx context.Context, eventID, url, prev, next string) (attempt int, ok bool, err error) {
	err = o.pool.QueryRow(ctx, `UPDATE gateway_webhook_outbox SET claim = $1, claim_until = now() + $2 * interval '1 microsecond'
		WHERE event_id = $3 AND url = $4 AND (claim = $5 OR claim_until <= now()) RETURNING attempt`,
		next, micros(o.lease), eventID, url, prev).Scan(&attempt)
	switch {
	case err == pgx.ErrNoRows:
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("sessions: outbox claim: %w", err)
	}
	return attempt, true, nil
}

// ClaimDue is ClaimingOutbox's. SKIP LOCKED: replicas claiming together
// take disjoint deliveries.
func (o *PostgresOutbox) ClaimDue(ctx context.Context, limit int) ([]Delivery, error) {
	rows, err := o.pool.Query(ctx, `UPDATE gateway_webhook_outbox
		SET claim = md5(random()::text || clock_timestamp()::text || event_id || url), claim_until = now() + $1 * interval '1 microsecond'
		WHERE (event_id, url) IN (
			SELECT event_id, url FROM gateway_webhook_outbox
			WHERE next_at <= now() AND claim_until <= now()
			ORDER BY next_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING `+pgDeliveryColumns, micros(o.lease), limit)
	if err != nil {
		return nil, fmt.Errorf("sessions: outbox claim due: %w", err)
	}
	out, err := collectDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("sessions: outbox claim due: %w", err)
	}
	return out, nil
}

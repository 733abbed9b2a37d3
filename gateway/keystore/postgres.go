package keystore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idgate/idgate/gateway/auth"
)

// pgSchema is the fleet's key table, in the pool's schema. Its columns are
// the SQLite table's: digests only, pairs' SecretKeys sealed.
const pgSchema = `
CREATE TABLE IF NOT EXISTS api_keys (
	id                TEXT             PRIMARY KEY,
	tenant            TEXT             NOT NULL,
	sha256            BYTEA            NOT NULL,
	disabled          BOOLEAN          NOT NULL,
	rate              DOUBLE PRECISION NOT NULL,
	burst             INTEGER          NOT NULL,
	daily_quota       BIGINT           NOT NULL,
	updated_at        TIMESTAMPTZ      NOT NULL,
	secret_id         TEXT             NOT NULL DEFAULT '',
	secret_key_sealed BYTEA
)`

// Postgres is the key store of a fleet: every replica reads the same
// table, and a change made through one replica's admin API is announced
// on a NOTIFY channel (in the transaction that makes it) that every
// replica LISTENs on (Listen), so each rebuilds its directory within
// moments.
type Postgres struct {
	pool    *pgxpool.Pool
	sealer  *Sealer // nil: no sealing key configured
	channel string
	// self marks this store's own notifications, which it does not need
	// to hear: its replica rebuilt already.
	self string
}

// NewPostgres creates the table if needed in the pool's schema. key seals
// the Tencent SecretKeys as New's does.
func NewPostgres(ctx context.Context, pool *pgxpool.Pool, key []byte) (*Postgres, error) {
	p := &Postgres{pool: pool}
	if key != nil {
		var err error
		if p.sealer, err = NewSealer(key); err != nil {
			return nil, err
		}
	}
	var schema string
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// Replicas starting together would race on CREATE TABLE.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('idgate keystore schema'))`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, pgSchema); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema)
	})
	if err != nil {
		return nil, fmt.Errorf("keystore: postgres: schema: %w", err)
	}
	p.channel = channelName(schema)
	var b [8]byte
	_, _ = rand.Read(b[:])
	p.self = hex.EncodeToString(b[:])
	return p, nil
}

// channelName is the NOTIFY channel of a schema's key table: fleets (and
// tests) in other schemas of the same database do not hear each other. A
// channel is an identifier, at most 63 bytes.
func channelName(schema string) string {
	c := "idgate_keys_" + schema
	if len(c) > 63 {
		c = c[:63]
	}
	return c
}

// Channel is the NOTIFY channel key changes are announced on.
func (p *Postgres) Channel() string { return p.channel }

// Overrides lists every stored key change, SecretKeys opened.
func (p *Postgres) Overrides(ctx context.Context) ([]auth.Override, error) {
	rows, err := p.pool.Query(ctx, listOverrides)
	if err != nil {
		return nil, fmt.Errorf("keystore: list: %w", err)
	}
	defer rows.Close()
	return readOverrides(rows, p.sealer)
}

// Put stores (inserts or replaces) one key's state and announces the
// change to every replica in the same transaction: a listener hears of
// it only once it is committed, and always hears of a committed one.
func (p *Postgres) Put(ctx context.Context, o auth.Override) error {
	return p.put(ctx, o, `ON CONFLICT (id) DO UPDATE SET tenant=excluded.tenant, sha256=excluded.sha256, disabled=excluded.disabled,
		rate=excluded.rate, burst=excluded.burst, daily_quota=excluded.daily_quota, updated_at=excluded.updated_at,
		secret_id=excluded.secret_id, secret_key_sealed=excluded.secret_key_sealed`)
}

// ErrExists is Create's answer for a key id the table already holds.
var ErrExists = errors.New("keystore: key id exists")

// Create stores a new key, or answers ErrExists when another replica
// created the id first: the check is the database's, so two replicas
// creating one id at once cannot both hand out a secret.
func (p *Postgres) Create(ctx context.Context, o auth.Override) error {
	return p.put(ctx, o, `ON CONFLICT (id) DO NOTHING`)
}

// put writes o with the conflict clause given and announces the change
// in the same transaction.
func (p *Postgres) put(ctx context.Context, o auth.Override, onConflict string) error {
	sealed, err := sealPair(p.sealer, o)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO api_keys(id, tenant, sha256, disabled, rate, burst, daily_quota, updated_at, secret_id, secret_key_sealed)
			VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8, $9) `+onConflict,
			o.KeyID, o.TenantID, o.Digest[:], o.Disabled, o.Rate, o.Burst, o.DailyQuota, o.SecretID, sealed)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrExists
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, p.channel, p.self)
		return err
	})
	if errors.Is(err, ErrExists) {
		return err
	}
	if err != nil {
		return fmt.Errorf("keystore: put %s: %w", o.KeyID, err)
	}
	return nil
}

// CanSeal reports whether the store can keep a Tencent pair.
func (p *Postgres) CanSeal() bool { return p.sealer != nil }

// Listener backoff between reconnection attempts.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 5 * time.Second
)

// Listen calls changed after every key change another store on the table
// (another replica) commits, from a goroutine of its own on a dedicated
// connection. The first LISTEN is made before Listen returns (an error
// otherwise), so a change committed after it is never missed. When the
// connection is lost it reconnects with backoff and then calls changed
// once, since a change may have been announced while nobody listened.
// stop ends it and waits for it.
func (p *Postgres) Listen(ctx context.Context, log *slog.Logger, changed func()) (stop func(), err error) {
	conn, err := p.listenConn(ctx)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.listen(lctx, conn, log, changed)
	}()
	return func() { cancel(); <-done }, nil
}

// listenConn opens a connection of its own (a pooled one cannot wait for
// notifications) and LISTENs on the channel.
func (p *Postgres) listenConn(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, p.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("keystore: listen: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{p.channel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("keystore: listen: %w", err)
	}
	return conn, nil
}

func (p *Postgres) listen(ctx context.Context, conn *pgx.Conn, log *slog.Logger, changed func()) {
	for {
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				break
			}
			if n.Payload != p.self {
				changed()
			}
		}
		conn.Close(context.Background())
		if ctx.Err() != nil {
			return
		}
		log.Warn("key change listener lost its connection; reconnecting")
		wait := listenMinBackoff
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			c, err := p.listenConn(cctx)
			cancel()
			if err == nil {
				conn = c
				break
			}
			if ctx.Err() != nil {
				return
			}
			log.Warn("key change listener cannot reconnect", "err", err, "retry_in", wait)
			wait = min(2*wait, listenMaxBackoff)
		}
		log.Info("key change listener reconnected")
		// A change may have been announced while nobody listened.
		changed()
	}
}

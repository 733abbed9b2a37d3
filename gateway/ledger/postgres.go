package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/idgate/idgate/gateway/stores"
)

// Postgres is the fleet's ledger: every replica writes its entries into
// one PostgreSQL schema, and the reports read the whole fleet's.
//
// Each replica keeps its own journal (journal.go), in a local directory,
// and the promise is SQLite's: Intend and Record append to the journal
// before the request goes upstream and before its answer, and queue the
// entry; the writer stores batches into PostgreSQL (one statement each,
// insertPG). PostgreSQL is never on a request's path: while it is down or
// slow, answers go on, entries wait in the journal and the queue and are
// retried with backoff, and only the journal's bound (journal_max_bytes)
// and the queue's (queue_size) refuse or hold back requests, as they do
// for SQLite. The journal is released only up to what PostgreSQL holds.
// At start the journal is replayed into PostgreSQL: request ids make that
// idempotent, and intents without an outcome become unknown entries.
type Postgres struct {
	Reader // the reports, over the pool
	*spool // the journal, the queue and the writer
	pool   *pgxpool.Pool
	log    *slog.Logger
}

// PostgresCloseWait bounds how long Close waits for PostgreSQL to take
// what is queued. Past it the writer gives up: the journal keeps the
// entries it holds (every billable one) for the next start's replay.
var PostgresCloseWait = 30 * time.Second

// OpenPostgres opens the ledger in conns' PostgreSQL (creating or
// upgrading its tables) with the local journal c.JournalDir (default: the
// store path with ".pgjournal" appended, apart from SQLite's), and replays
// the journal into PostgreSQL before returning: the quota then seeds from
// a ledger that counts every possible charge. ctx bounds the whole start,
// replay included.
func OpenPostgres(ctx context.Context, conns *stores.Conns, c Config, log *slog.Logger) (*Postgres, Recovery, error) {
	if err := MigratePostgres(ctx, conns.PG); err != nil {
		return nil, Recovery{}, err
	}
	if c.JournalDir == "" {
		c.JournalDir = filepath.Join(filepath.Dir(c.Path), filepath.Base(c.Path)+".pgjournal")
	}
	j, err := openJournal(c, log)
	if err != nil {
		return nil, Recovery{}, err
	}
	p := newPostgres(conns.PG, c, log)
	p.j, p.jhold = j, c.InFlight
	// The replay waits for PostgreSQL to store what the journal holds; ctx
	// bounds that wait (the journal is kept for the next start).
	stop := context.AfterFunc(ctx, p.abandon)
	rec, err := p.replay()
	if !stop() && err == nil {
		err = fmt.Errorf("ledger: postgres: replay the journal: %w", ctx.Err())
	}
	if err != nil {
		p.Close()
		return nil, Recovery{}, err
	}
	if rec.Outcomes > 0 || rec.Unknown > 0 {
		log.Warn("ledger: recovered from an unclean stop", "outcomes_restored", rec.Outcomes, "unknown", rec.Unknown)
	}
	p.startReleaser()
	return p, rec, nil
}

// newPostgres starts the writer over pool, without a journal.
func newPostgres(pool *pgxpool.Pool, c Config, log *slog.Logger) *Postgres {
	p := &Postgres{Reader: Reader{db: stdlib.OpenDBFromPool(pool), dollar: true}, pool: pool, log: log}
	p.spool = newSpool(&pgSink{pool: pool}, c.QueueSize, c.BatchSize, c.Linger, log)
	p.spool.check = p.Err
	return p
}

// Err says why the ledger cannot take billable work: its journal cannot
// write. A failing PostgreSQL is not a reason (the journal and the queue
// hold the entries until it is back; their bounds refuse work when full);
// Ping reports it.
func (p *Postgres) Err() error { return p.journalErr() }

// Ping reports whether the journal can write, PostgreSQL takes the
// writer's batches, and it answers.
func (p *Postgres) Ping(ctx context.Context) error {
	if err := p.Err(); err != nil {
		return err
	}
	if err := p.writeErr(); err != nil {
		return fmt.Errorf("%w (%d entries waiting)", err, p.QueueLen())
	}
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ledger: postgres: %w", err)
	}
	return nil
}

// Close stops accepting entries, stores what is queued (waiting at most
// PostgresCloseWait for PostgreSQL), and closes the journal, releasing it
// only when PostgreSQL holds everything. The pool is the caller's.
func (p *Postgres) Close() error {
	if !p.q.close() {
		return nil
	}
	t := time.NewTimer(PostgresCloseWait)
	select {
	case <-p.done:
		t.Stop()
	case <-t.C:
		p.abandon()
		<-p.done
	}
	var errs []error
	if n := p.dropped.Load(); n > 0 {
		err := fmt.Errorf("ledger: postgres: %d entries not stored at close: the journal keeps the billable ones for the next start; the others are lost: %w", n, p.writeErr())
		p.log.Error("ledger: closing without storing every entry", "err", err)
		errs = append(errs, err)
	}
	errs = append(errs, p.closeJournal(true))
	if err := p.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("ledger: postgres: close: %w", err))
	}
	return errors.Join(errs...)
}

// Resolve records the resolutions in one transaction, as Reader.Resolve
// does for SQLite. A resolution already recorded is not recorded again.
func (p *Postgres) Resolve(ctx context.Context, resolutions []Entry) error {
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		for _, e := range resolutions {
			if !isResolution(e.Class) {
				return fmt.Errorf("%s: class %q is not a resolution", e.RequestID, e.Class)
			}
			e.Billed = e.Class == ClassResolvedBilled
			if err := InsertPGTx(ctx, tx, e); err != nil {
				return fmt.Errorf("%s: %w", e.RequestID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger: resolve: %w", err)
	}
	return nil
}

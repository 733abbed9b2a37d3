// Package ledger records one entry per authenticated request in SQLite
// (pure Go, WAL; one gateway), or in PostgreSQL for a fleet of replicas
// (postgres.go). Requests hand entries to a bounded queue; one writer
// goroutine stores them in batches (spool.go). A full queue blocks the request
// (backpressure) rather than dropping an entry: the ledger is the billing
// record and the source the quota rebuilds from after a restart.
package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Entry is one request as the ledger keeps it. It holds no name and only
// the masked ID number.
type Entry struct {
	Time            time.Time
	Day             string // calendar day in the quota time zone, 2006-01-02
	RequestID       string
	Tenant          string
	KeyID           string
	Route           string
	Result          string // the result code, "" when there was none
	Class           string
	Billed          bool
	HTTPStatus      int
	UpstreamLatency time.Duration
	IDMasked        string
	// Attempts is the number of upstream calls made (retries included;
	// 0: answered without one).
	Attempts int
	// UpstreamID is the id the upstream gave its answer (its trace_id or
	// X-Request-Id), "" when it gave none or was not called.
	UpstreamID string
	// Intended: the entry is the outcome of a request whose intent was
	// recorded (Intend); it fills the place the intent held. Not stored.
	Intended bool

	ack chan struct{} // a flush barrier, not a row
}

// SQLite is the embedded ledger.
type SQLite struct {
	Reader // the queries (reports, reconciliation) over db
	*spool // the journal, the queue and the writer (spool.go)
	log    *slog.Logger
	cpDone chan struct{}

	// The watch on the database file (file.go).
	fileStop, fileDone chan struct{}
	lost               atomic.Pointer[error]
}

// checkpointEvery is how often the WAL is copied into the database.
const checkpointEvery = 5 * time.Second

// New starts the writer over an open database. The writer waits up to
// linger after an entry for more to share its transaction (0: write what is
// queued at once).
func New(db *sql.DB, queueSize, batchSize int, linger time.Duration, log *slog.Logger) *SQLite {
	l := &SQLite{Reader: Reader{db: db}, log: log, cpDone: make(chan struct{})}
	l.spool = newSpool(&sqliteSink{db: db}, queueSize, batchSize, linger, log)
	l.spool.check = l.Err
	go l.checkpoints(checkpointEvery)
	return l
}

// Flush waits until every entry queued before the call is stored.
func (l *SQLite) Flush() error {
	if err := l.spool.Flush(); err != nil {
		return err
	}
	return l.Err()
}

// Err says why the ledger cannot take billable work, nil when it can: the
// last database write failed (nil again once a later one succeeded), the
// journal cannot write, or the database file was deleted or replaced.
func (l *SQLite) Err() error {
	if err := l.writeErr(); err != nil {
		return err
	}
	if p := l.lost.Load(); p != nil {
		return *p
	}
	return l.journalErr()
}

// Ping reports whether the database answers and the writer is healthy.
func (l *SQLite) Ping(ctx context.Context) error {
	if err := l.Err(); err != nil {
		return err
	}
	return l.db.PingContext(ctx)
}

// Close stops accepting entries, stores everything queued and closes the
// database.
func (l *SQLite) Close() error {
	if !l.q.close() {
		return nil
	}
	<-l.done
	<-l.cpDone
	l.stopWatching()
	err := l.Err()
	// Fold the WAL into the database so the file is complete on its own.
	if _, cerr := l.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err == nil && cerr != nil {
		err = fmt.Errorf("ledger: checkpoint: %w", cerr)
	}
	if jerr := l.closeJournal(l.Err() == nil); err == nil && jerr != nil {
		err = jerr
	}
	if cerr := l.db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("ledger: close: %w", cerr)
	}
	return err
}

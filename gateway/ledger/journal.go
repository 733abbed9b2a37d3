package ledger

import (
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/idgate/idgate/gateway/billing"
)

// The journal is what makes the ledger exact when the process dies. With
// one (Open), the ledger promises, for every request that goes upstream:
//
//   - intent before the call: Intend appends the request's intent to the
//     write-ahead log (gateway/wal) before the request is sent, and holds
//     a place in the database queue for its outcome, so the outcome never
//     waits once the authority has answered (and billed) it;
//   - outcome before the answer: Record appends the entry of a request
//     that went upstream, or that used a quota unit, before the caller
//     writes the answer, and only then queues it for the database.
//
// A record is durable against a crash of the process once the kernel has
// it (wal.SyncProcess), or also against a power loss with wal.SyncPower.
// At the next start Open replays what the log still holds: outcomes the
// database lacks are stored, and every intent without an outcome becomes
// an entry of class unknown — the authority may have billed it — so
//
//	ledger billed ≤ authority billed ≤ ledger billed + ledger unknown
//
// holds after any crash. The log is released once the database holds
// everything it covers and no request it covers can still be in flight
// (Config.InFlight after the fact).

// usesQuota reports whether an entry of this class used a unit of the
// daily quota (billing.Class.CountsQuota): its outcome must be durable
// before the answer goes out, because the counters rebuild from it.
func usesQuota(class string) bool { return billing.Class(class).CountsQuota() }

// ErrQueueFull: the database queue has no place for another request's
// outcome; the request must not go upstream.
var ErrQueueFull = errors.New("ledger: queue full")

// Recovery is what Open found in the journal after an unclean stop.
type Recovery struct {
	// Outcomes: entries the journal held and the database lacked.
	Outcomes int
	// Unknown: requests that went upstream without an outcome; each is now
	// an entry of class unknown.
	Unknown int
}

// Open starts the ledger over db with its journal (c.JournalDir), and
// replays the journal into db before returning: the quota counters that
// the caller seeds from the ledger then count every possible charge.
func Open(db *sql.DB, c Config, log *slog.Logger) (*SQLite, Recovery, error) {
	j, err := openJournal(c, log)
	if err != nil {
		return nil, Recovery{}, err
	}
	l := New(db, c.QueueSize, c.BatchSize, c.Linger, log)
	l.j, l.jhold = j, c.InFlight
	rec, err := l.replay()
	if err != nil {
		l.Close()
		return nil, Recovery{}, err
	}
	if rec.Outcomes > 0 || rec.Unknown > 0 {
		log.Warn("ledger: recovered from an unclean stop", "outcomes_restored", rec.Outcomes, "unknown", rec.Unknown)
	}
	if err := l.watchFile(c.Path); err != nil {
		l.Close()
		return nil, Recovery{}, err
	}
	l.startReleaser()
	return l, rec, nil
}

func (c Config) journalDir() string {
	if c.JournalDir != "" {
		return c.JournalDir
	}
	return filepath.Join(filepath.Dir(c.Path), filepath.Base(c.Path)+".journal")
}

// present returns the request ids of the entries stored since ts (unix
// nanoseconds), reading the newest first and stopping at ts: the entries
// have no request id index, and the journal's ids are all that recent.
func (w *sqliteSink) present(_ []string, ts int64) (map[string]bool, error) {
	rows, err := w.db.Query(`SELECT request_id, ts FROM ledger_entries ORDER BY id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		var t int64
		if err := rows.Scan(&id, &t); err != nil {
			return nil, err
		}
		if t < ts {
			break
		}
		out[id] = true
	}
	return out, rows.Err()
}

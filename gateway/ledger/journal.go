package ledger

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/wal"
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
	j, err := wal.Open(wal.Config{Dir: c.journalDir(), Sync: c.Sync, SegmentBytes: c.JournalSegmentBytes, MaxPendingBytes: c.JournalMaxBytes}, log)
	if err != nil {
		return nil, Recovery{}, fmt.Errorf("ledger: journal: %w", err)
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
	l.jstop, l.jdone = make(chan struct{}), make(chan struct{})
	go l.releaser()
	return l, rec, nil
}

func (c Config) journalDir() string {
	if c.JournalDir != "" {
		return c.JournalDir
	}
	return filepath.Join(filepath.Dir(c.Path), filepath.Base(c.Path)+".journal")
}

var recordBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// journal appends e as a record of kind and waits until it is durable.
func (l *SQLite) journal(kind byte, e *Entry) error {
	bp := recordBufs.Get().(*[]byte)
	rec := appendRecord((*bp)[:0], kind, e)
	_, err := l.j.Append(rec)
	*bp = rec
	recordBufs.Put(bp)
	if err != nil {
		return fmt.Errorf("ledger: journal: %w", err)
	}
	return nil
}

// Intend records that the request of e is about to go upstream; it must
// not go when Intend fails (the ledger cannot write, or its queue is
// full). The request's outcome must then come to Record with Intended set,
// exactly once.
func (l *SQLite) Intend(e Entry) error {
	if err := l.Err(); err != nil {
		return err
	}
	if !l.q.hold() {
		return ErrQueueFull
	}
	if l.j != nil {
		if err := l.journal(kindIntent, &e); err != nil {
			l.q.unhold()
			return err
		}
	}
	return nil
}

// Record stores e. The entry of a request that went upstream (Intended)
// or that used a quota unit is durable when Record returns nil; an error
// then means it is not, and the caller must not give the client the
// answer it records (it is still queued for the database). Other entries
// are queued; Record blocks while the queue is full.
func (l *SQLite) Record(e Entry) error {
	var err error
	if l.j != nil && (e.Intended || usesQuota(e.Class)) {
		err = l.journal(kindOutcome, &e)
	}
	if e.Intended {
		l.q.pushHeld(e)
		return err
	}
	if perr := l.q.push(e); perr != nil {
		return perr
	}
	return err
}

// replay stores what the journal holds and the database lacks (see the
// top of this file), then releases the journal.
func (l *SQLite) replay() (Recovery, error) {
	var (
		rec      Recovery
		last     wal.Pos
		oldest   int64
		outcomes []Entry
		intents  = map[string]Entry{}
	)
	err := l.j.Replay(func(pos wal.Pos, b []byte) error {
		kind, e, err := decodeRecord(b)
		if err != nil {
			return fmt.Errorf("journal record ending at %d: %w", pos, err)
		}
		last = pos
		if ts := e.Time.UnixNano(); oldest == 0 || ts < oldest {
			oldest = ts
		}
		if kind == kindIntent {
			intents[e.RequestID] = e
			return nil
		}
		delete(intents, e.RequestID)
		outcomes = append(outcomes, e)
		return nil
	})
	if err != nil {
		return rec, fmt.Errorf("ledger: replay journal: %w", err)
	}
	if last == 0 {
		return rec, nil
	}
	// Entries are stored within the in-flight bound of their request's
	// start, so the database's entries since the oldest record, less that
	// bound and a margin, are the only ones the journal can repeat.
	present, err := l.requestIDsSince(oldest - int64(l.jhold) - int64(time.Minute))
	if err != nil {
		return rec, err
	}
	for _, e := range outcomes {
		if !present[e.RequestID] {
			present[e.RequestID] = true
			if err := l.q.push(e); err != nil {
				return rec, err
			}
			rec.Outcomes++
		}
	}
	lost := make([]Entry, 0, len(intents))
	for id, e := range intents {
		if !present[id] {
			lost = append(lost, e)
		}
	}
	sort.Slice(lost, func(i, j int) bool { return lost[i].Time.Before(lost[j].Time) })
	for _, e := range lost {
		e.Class, e.Billed, e.Result, e.HTTPStatus = string(billing.Unknown), false, "", 0
		if err := l.q.push(e); err != nil {
			return rec, err
		}
		rec.Unknown++
	}
	if err := l.Flush(); err != nil {
		return rec, fmt.Errorf("ledger: store the journal's entries: %w", err)
	}
	l.j.Release(last)
	return rec, nil
}

// requestIDsSince returns the request ids of the entries stored since ts
// (unix nanoseconds), reading the newest first and stopping at ts.
func (l *SQLite) requestIDsSince(ts int64) (map[string]bool, error) {
	rows, err := l.db.Query(`SELECT request_id, ts FROM ledger_entries ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("ledger: recent entries: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		var t int64
		if err := rows.Scan(&id, &t); err != nil {
			return nil, fmt.Errorf("ledger: recent entries: %w", err)
		}
		if t < ts {
			break
		}
		out[id] = true
	}
	return out, rows.Err()
}

// releaser releases the journal up to where it stood InFlight ago, once
// the database holds everything queued until now: no request the released
// records cover can still be running, and their outcomes are stored.
func (l *SQLite) releaser() {
	defer close(l.jdone)
	type mark struct {
		pos wal.Pos
		at  time.Time
	}
	var marks []mark
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-l.jstop:
			return
		case now := <-tick.C:
			marks = append(marks, mark{l.j.Stats().Written, now})
			if now.Sub(marks[0].at) < l.jhold {
				continue
			}
			if err := l.Flush(); err != nil {
				continue // the database cannot write: keep the journal
			}
			for len(marks) > 0 && now.Sub(marks[0].at) >= l.jhold {
				l.j.Release(marks[0].pos)
				marks = marks[1:]
			}
		}
	}
}

// JournalPending is the journal's size not yet released, in bytes (0
// without a journal): it grows while the database cannot keep up.
func (l *SQLite) JournalPending() int64 {
	if l.j == nil {
		return 0
	}
	return l.j.Stats().Pending
}

// closeJournal runs after the database holds every entry: nothing is in
// flight any more, so the whole journal is released and closed.
func (l *SQLite) closeJournal() error {
	if l.j == nil {
		return nil
	}
	if l.jstop != nil {
		close(l.jstop)
		<-l.jdone
	}
	if l.Err() == nil {
		l.j.Release(l.j.Stats().Written)
	}
	if err := l.j.Close(); err != nil {
		return fmt.Errorf("ledger: close journal: %w", err)
	}
	return nil
}

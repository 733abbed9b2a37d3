package ledger

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/wal"
)

// A spool is what every ledger shares whatever database holds its entries:
// the journal (journal.go's promise), the bounded queue, and the writer
// goroutine that stores the queue into the database in batches through a
// sink, retrying until the database takes them. SQLite and Postgres each
// own one and differ only in their sink and in what their Err reports.

// sink is the database a spool stores into.
type sink interface {
	// insert stores a batch: all of it or none of it.
	insert(batch []Entry) error
	// reset drops what insert keeps between batches (a connection): called
	// after a failed insert, so the next attempt starts afresh, and when the
	// writer stops.
	reset()
	// present returns which of ids the database already holds. Every one of
	// them was recorded at or after since (unix nanoseconds), which a sink
	// without an index on request ids uses to bound its reading.
	present(ids []string, since int64) (map[string]bool, error)
}

// spool is the journal, the queue and the writer of one ledger.
type spool struct {
	sink   sink
	batch  int
	linger time.Duration
	log    *slog.Logger
	done   chan struct{} // closed when the writer stopped

	q queue

	written atomic.Int64
	// lastErr is the last failed write, nil again once one succeeded.
	lastErr atomic.Pointer[error]

	// check says why Intend must refuse (the owner's Err); nil: never.
	check func() error

	// abort, once closed, makes the writer stop retrying a failed batch and
	// drop what is left (counted in dropped): a ledger whose database stays
	// unreachable past its close bound leaves its entries to the journal.
	abort     chan struct{}
	abortOnce sync.Once
	dropped   atomic.Int64

	// The journal (nil: the database alone) and its releaser. unreplayed:
	// a replay began and did not finish, so the database may lack what
	// the journal holds, and Close must keep it.
	j            *wal.Log
	jhold        time.Duration
	jstop, jdone chan struct{}
	unreplayed   bool
}

// newSpool starts the writer of a spool over sink. The writer waits up to
// linger after an entry for more to share its batch (0: write what is
// queued at once).
func newSpool(sk sink, queueSize, batchSize int, linger time.Duration, log *slog.Logger) *spool {
	s := &spool{sink: sk, batch: max(batchSize, 1), linger: linger, log: log, done: make(chan struct{}), abort: make(chan struct{})}
	s.q.init(max(queueSize, 1), s.batch)
	go s.run()
	return s
}

// Flush waits until every entry queued before the call is stored. It
// fails when the spool is closed, or when the writer gave up (abandon)
// before storing them.
func (s *spool) Flush() error {
	ack := make(chan struct{})
	if err := s.q.push(Entry{ack: ack}); err != nil {
		return err
	}
	<-ack
	if n := s.dropped.Load(); n > 0 {
		return fmt.Errorf("ledger: %d entries were not stored (the database stayed unreachable); the journal keeps those it holds", n)
	}
	return nil
}

// QueueLen is the number of entries waiting (a metric).
func (s *spool) QueueLen() int { return s.q.len() }

// Written is the number of entries stored since start.
func (s *spool) Written() int64 { return s.written.Load() }

// writeErr is the last failed write, nil once a later one succeeded.
func (s *spool) writeErr() error {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// journalErr is why the journal cannot write, nil when it can (or when
// there is none).
func (s *spool) journalErr() error {
	if s.j == nil {
		return nil
	}
	if err := s.j.Err(); err != nil {
		return fmt.Errorf("ledger: journal: %w", err)
	}
	return nil
}

var recordBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// journal appends e as a record of kind and waits until it is durable.
func (s *spool) journal(kind byte, e *Entry) error {
	bp := recordBufs.Get().(*[]byte)
	rec := appendRecord((*bp)[:0], kind, e)
	_, err := s.j.Append(rec)
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
func (s *spool) Intend(e Entry) error {
	if s.check != nil {
		if err := s.check(); err != nil {
			return err
		}
	}
	if !s.q.hold() {
		return ErrQueueFull
	}
	if s.j != nil {
		if err := s.journal(kindIntent, &e); err != nil {
			s.q.unhold()
			return err
		}
	}
	return nil
}

// Record stores e. The entry of a request that went upstream (Intended)
// or that used a quota unit is durable when Record returns nil; an error
// then means it is not, and the caller must not give the client the
// answer it records (it is still queued for the database). Other entries
// are queued; Record blocks while the queue is full. Record never waits
// for the database itself.
func (s *spool) Record(e Entry) error {
	var err error
	if s.j != nil && (e.Intended || usesQuota(e.Class)) {
		err = s.journal(kindOutcome, &e)
	}
	if e.Intended {
		s.q.pushHeld(e)
		return err
	}
	if perr := s.q.push(e); perr != nil {
		return perr
	}
	return err
}

// run is the writer goroutine: it takes what is queued, stores it in
// batches of at most s.batch entries, one insert each, then releases the
// flush barriers that were queued among them. It returns once the queue
// is closed and drained.
func (s *spool) run() {
	defer close(s.done)
	defer s.sink.reset()
	var acks []chan struct{}
	for {
		<-s.q.wake
		// Let a batch accumulate: one transaction per batch is what makes
		// the ledger cheap. Sleeping rather than waiting on every entry
		// means the writer is not woken once per request. A flush barrier,
		// a full batch or Close skips the wait.
		if s.linger > 0 && !s.q.urgent() {
			time.Sleep(s.linger)
		}
		taken, last := s.q.take()

		buf := taken[:0] // entries only, in place; barriers aside
		acks = acks[:0]
		for _, e := range taken {
			if e.ack != nil {
				acks = append(acks, e.ack)
				continue
			}
			buf = append(buf, e)
		}
		for len(buf) > 0 {
			n := min(len(buf), s.batch)
			s.store(buf[:n])
			buf = buf[n:]
		}
		for _, a := range acks {
			close(a)
		}
		clear(taken) // drop the strings for the collector before reuse
		stop, more := s.q.release(taken, last)
		if stop {
			return
		}
		if more || s.q.isClosed() {
			if !more {
				// Closing while requests still hold places for their
				// outcomes: wait for them without spinning.
				time.Sleep(time.Millisecond)
			}
			s.q.signal()
		}
	}
}

// store writes a batch, retrying until it succeeds: entries are money.
// While it fails the queue fills up until requests block, and writeErr
// says why. Only abandon stops the retries; the batch is then counted in
// dropped.
func (s *spool) store(buf []Entry) {
	if len(buf) == 0 {
		return
	}
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		select {
		case <-s.abort:
			s.dropped.Add(int64(len(buf)))
			return
		default:
		}
		err := s.sink.insert(buf)
		if err == nil {
			s.lastErr.Store(nil)
			s.written.Add(int64(len(buf)))
			return
		}
		s.sink.reset() // start the next attempt on a fresh connection
		err = fmt.Errorf("ledger: write %d entries (attempt %d): %w", len(buf), attempt, err)
		s.lastErr.Store(&err)
		s.log.Error("ledger write failed; retrying", "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-s.abort:
			t.Stop()
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// abandon makes the writer give up on what it cannot store (Close after
// its bound): the entries stay in the journal for the next start.
func (s *spool) abandon() { s.abortOnce.Do(func() { close(s.abort) }) }

// replay stores what the journal holds and the database lacks (see the
// top of journal.go), then releases the journal.
func (s *spool) replay() (Recovery, error) {
	var (
		rec      Recovery
		last     wal.Pos
		oldest   int64
		outcomes []Entry
		intents  = map[string]Entry{}
		ids      = map[string]struct{}{}
	)
	s.unreplayed = true
	err := s.j.Replay(func(pos wal.Pos, b []byte) error {
		kind, e, err := decodeRecord(b)
		if err != nil {
			return fmt.Errorf("journal record ending at %d: %w", pos, err)
		}
		last = pos
		if ts := e.Time.UnixNano(); oldest == 0 || ts < oldest {
			oldest = ts
		}
		ids[e.RequestID] = struct{}{}
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
		s.unreplayed = false
		return rec, nil
	}
	// Entries are stored within the in-flight bound of their request's
	// start, so the database's entries since the oldest record, less that
	// bound and a margin, are the only ones the journal can repeat.
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	present, err := s.sink.present(list, oldest-int64(s.jhold)-int64(time.Minute))
	if err != nil {
		return rec, fmt.Errorf("ledger: recent entries: %w", err)
	}
	for _, e := range outcomes {
		if !present[e.RequestID] {
			present[e.RequestID] = true
			if err := s.q.push(e); err != nil {
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
		if err := s.q.push(e); err != nil {
			return rec, err
		}
		rec.Unknown++
	}
	if err := s.Flush(); err != nil {
		return rec, fmt.Errorf("ledger: store the journal's entries: %w", err)
	}
	s.j.Release(last)
	s.unreplayed = false
	return rec, nil
}

// startReleaser starts releasing the journal as the database catches up.
func (s *spool) startReleaser() {
	s.jstop, s.jdone = make(chan struct{}), make(chan struct{})
	go s.releaser()
}

// releaser releases the journal up to where it stood jhold ago, once the
// database holds everything queued until now: no request the released
// records cover can still be running, and their outcomes are stored.
func (s *spool) releaser() {
	defer close(s.jdone)
	type mark struct {
		pos wal.Pos
		at  time.Time
	}
	var marks []mark
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.jstop:
			return
		case now := <-tick.C:
			marks = append(marks, mark{s.j.Stats().Written, now})
			if now.Sub(marks[0].at) < s.jhold {
				continue
			}
			if err := s.Flush(); err != nil {
				continue // the database did not store them: keep the journal
			}
			for len(marks) > 0 && now.Sub(marks[0].at) >= s.jhold {
				s.j.Release(marks[0].pos)
				marks = marks[1:]
			}
		}
	}
}

// JournalPending is the journal's size not yet released, in bytes (0
// without a journal): it grows while the database cannot keep up.
func (s *spool) JournalPending() int64 {
	if s.j == nil {
		return 0
	}
	return s.j.Stats().Pending
}

// closeJournal runs once the writer stopped: nothing is in flight any
// more, so the whole journal is released when stored says the database
// holds every entry (and a replay, if one began, finished), then closed.
func (s *spool) closeJournal(stored bool) error {
	if s.j == nil {
		return nil
	}
	if s.jstop != nil {
		close(s.jstop)
		<-s.jdone
	}
	if stored && s.dropped.Load() == 0 && !s.unreplayed {
		s.j.Release(s.j.Stats().Written)
	}
	if err := s.j.Close(); err != nil {
		return fmt.Errorf("ledger: close journal: %w", err)
	}
	return nil
}

// openJournal opens the journal c describes.
func openJournal(c Config, log *slog.Logger) (*wal.Log, error) {
	j, err := wal.Open(wal.Config{Dir: c.journalDir(), Sync: c.Sync, SegmentBytes: c.JournalSegmentBytes, MaxPendingBytes: c.JournalMaxBytes}, log)
	if err != nil {
		return nil, fmt.Errorf("ledger: journal: %w", err)
	}
	return j, nil
}

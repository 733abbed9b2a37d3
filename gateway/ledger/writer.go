package ledger

import (
	"fmt"
	"time"
)

// run is the writer goroutine: it takes what is queued, stores it in
// batches of at most l.batch entries, one transaction each, then releases
// the flush barriers that were queued among them. It returns once the
// queue is closed and drained.
func (l *SQLite) run() {
	defer close(l.done)
	defer l.closeWriter()
	var acks []chan struct{}
	for {
		<-l.q.wake
		// Let a batch accumulate: one transaction per batch is what makes
		// the ledger cheap. Sleeping rather than waiting on every entry
		// means the writer is not woken once per request. A flush barrier,
		// a full batch or Close skips the wait.
		if l.linger > 0 && !l.q.urgent() {
			time.Sleep(l.linger)
		}
		taken, last := l.q.take()

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
			n := min(len(buf), l.batch)
			l.store(buf[:n])
			buf = buf[n:]
		}
		for _, a := range acks {
			close(a)
		}
		clear(taken) // drop the strings for the collector before reuse
		stop, more := l.q.release(taken, last)
		if stop {
			return
		}
		if more || l.q.isClosed() {
			if !more {
				// Closing while requests still hold places for their
				// outcomes: wait for them without spinning.
				time.Sleep(time.Millisecond)
			}
			l.q.signal()
		}
	}
}

// store writes a batch, retrying until it succeeds: entries are money. While
// it fails, /readyz reports the error and the queue fills up until requests
// block.
func (l *SQLite) store(buf []Entry) {
	if len(buf) == 0 {
		return
	}
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := l.insert(buf)
		if err == nil {
			l.lastErr.Store(nil)
			l.written.Add(int64(len(buf)))
			return
		}
		l.closeWriter() // start the next attempt on a fresh connection
		err = fmt.Errorf("ledger: write %d entries (attempt %d): %w", len(buf), attempt, err)
		l.lastErr.Store(&err)
		l.log.Error("ledger write failed; retrying", "err", err)
		time.Sleep(backoff)
		backoff = min(backoff*2, 2*time.Second)
	}
}

// insert stores one batch on the writer's connection, opening it first
// when there is none.
func (l *SQLite) insert(buf []Entry) (err error) {
	if l.w == nil {
		if l.w, err = openWriteConn(l.db); err != nil {
			return err
		}
	}
	return l.w.insert(buf)
}

func (l *SQLite) closeWriter() {
	if l.w != nil {
		l.w.close()
		l.w = nil
	}
}

// checkpoints copies the WAL into the database every interval, beside the
// writer (PASSIVE never blocks it), until the writer stops. The database is
// opened without automatic checkpoints (see OpenDB).
func (l *SQLite) checkpoints(every time.Duration) {
	defer close(l.cpDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
			if _, err := l.db.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
				l.log.Warn("ledger checkpoint failed", "err", err)
			}
		}
	}
}

package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"
)

// The ledger's database file must stay the one the process opened: a file
// deleted or replaced under a running gateway takes every entry written
// after that with it at the next start, and the day's quota with them.
// watchFile notices within a quarter of a second and fails the ledger
// (Err), so /readyz fails and billable requests are refused before they
// go upstream; the failure lasts until a restart, which the start-up check
// (CheckFile) then guards.

// fileWatchEvery is how often the database file's identity is checked.
const fileWatchEvery = 250 * time.Millisecond

// watchFile starts watching path, the database l writes.
func (l *SQLite) watchFile(path string) error {
	opened, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	// A connection held open from the start reads the file even after it
	// is deleted; a connection opened later could not (rescue).
	keep, err := l.db.Conn(context.Background())
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	l.fileStop, l.fileDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.fileDone)
		defer keep.Close()
		tick := time.NewTicker(fileWatchEvery)
		defer tick.Stop()
		for {
			select {
			case <-l.fileStop:
				return
			case <-tick.C:
				now, err := os.Stat(path)
				if err == nil && os.SameFile(now, opened) {
					continue
				}
				if err == nil {
					err = errors.New("replaced by another file")
				}
				lost := fmt.Errorf("ledger: database file %s is no longer the one this process writes (%v); billable requests are refused until a restart", path, err)
				if l.lost.CompareAndSwap(nil, &lost) {
					l.log.Error("ledger database file lost; billable requests are refused until a restart", "path", path, "err", err)
					l.rescue(keep, path)
				}
			}
		}
	}()
	return nil
}

// rescue writes what the process still holds of a lost database file —
// its open handle reads the deleted file — back to path (or beside it,
// when another file took its place), so the next start finds the day's
// entries and does not reset the quota.
func (l *SQLite) rescue(keep *sql.Conn, path string) {
	_ = l.Flush() // stores what is queued; its error is the loss itself
	dst := path
	if _, err := os.Stat(path); err == nil {
		dst = fmt.Sprintf("%s.rescued-%d", path, time.Now().UnixNano())
	}
	target := "file:" + (&url.URL{Path: dst}).EscapedPath() + "?mode=rwc"
	if _, err := keep.ExecContext(context.Background(), `VACUUM INTO ?`, target); err != nil {
		l.log.Error("ledger: could not write the lost database back", "path", dst, "err", err)
		return
	}
	l.log.Warn("ledger: the lost database was written back from the open handle; restart the gateway to use it", "path", dst)
}

func (l *SQLite) stopWatching() {
	if l.fileStop != nil {
		close(l.fileStop)
		<-l.fileDone
		l.fileStop = nil
	}
}

// CheckFile refuses to start on a ledger that would silently reset the
// day's quota: an existing database file that is empty or holds no ledger,
// or a missing one whose journal shows a ledger existed there. initialize
// (the store.initialize setting) starts an empty ledger anyway. A missing
// file with no journal is a first start: it is created.
func CheckFile(c Config, initialize bool) error {
	if initialize {
		return nil
	}
	fi, err := os.Stat(c.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if _, jerr := os.Stat(c.journalDir()); jerr == nil {
			return fmt.Errorf("ledger: database %s is missing but its journal %s exists: a ledger was kept here; restore the file, or set store.initialize to start an empty one (the day's quota starts from zero)", c.Path, c.journalDir())
		}
		return nil
	case err != nil:
		return fmt.Errorf("ledger: %w", err)
	case fi.Size() == 0:
		return fmt.Errorf("ledger: database %s is empty: refusing to initialise it (the day's quota would start from zero); restore it, or set store.initialize", c.Path)
	}
	db, err := sql.Open("sqlite", "file:"+c.Path+"?mode=ro")
	if err != nil {
		return fmt.Errorf("ledger: open %s: %w", c.Path, err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(),
		`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('ledger_entries', 'ledger')`).Scan(&n); err != nil {
		return fmt.Errorf("ledger: database %s is not a readable ledger (%v): restore it, or set store.initialize", c.Path, err)
	}
	if n == 0 {
		return fmt.Errorf("ledger: database %s holds no ledger: refusing to initialise it (the day's quota would start from zero); restore it, or set store.initialize", c.Path)
	}
	return nil
}

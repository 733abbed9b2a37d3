package ledger

import (
	"database/sql"
	"time"
)

// sqliteSink stores batches into the SQLite database on the writer's
// own connection (writeconn.go).
type sqliteSink struct {
	db *sql.DB
	w  *writeConn // the writer goroutine's only
}

// insert stores one batch on the writer's connection, opening it first
// when there is none.
func (k *sqliteSink) insert(buf []Entry) (err error) {
	if k.w == nil {
		if k.w, err = openWriteConn(k.db); err != nil {
			return err
		}
	}
	return k.w.insert(buf)
}

func (k *sqliteSink) reset() {
	if k.w != nil {
		k.w.close()
		k.w = nil
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

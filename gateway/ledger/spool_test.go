package ledger

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/idgate/idgate/gateway/wal"
)

// TestFailedReplayKeepsJournal: a start whose replay fails before the
// database holds what the journal does leaves the journal whole for the
// next start.
func TestFailedReplayKeepsJournal(t *testing.T) {
	dir := t.TempDir()
	c := DefaultConfig()
	c.Path = filepath.Join(dir, "ledger.db")
	c.JournalSegmentBytes = 1 << 10 // several segments: Release deletes all but the active one
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	wcfg := wal.Config{Dir: c.journalDir(), Sync: c.Sync, SegmentBytes: c.JournalSegmentBytes, MaxPendingBytes: c.JournalMaxBytes}

	j, err := wal.Open(wcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	const records = 100
	for i := 0; i < records; i++ {
		e := Entry{Time: time.Now(), Day: "2026-12-01", RequestID: fmt.Sprintf("r%d", i), Tenant: "acme", KeyID: "k1", Route: "check", Class: "billed", Billed: true}
		if _, err := j.Append(appendRecord(nil, kindIntent, &e)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := OpenDB(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	// The replay cannot read what the database holds.
	if _, err := db.Exec(`ALTER TABLE ledger_entries RENAME TO elsewhere`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(db, c, log); err == nil {
		t.Fatal("Open = nil error, want the replay's failure")
	}

	j, err = wal.Open(wcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	n := 0
	if err := j.Replay(func(wal.Pos, []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != records {
		t.Errorf("journal holds %d records after a failed replay, want %d", n, records)
	}
}

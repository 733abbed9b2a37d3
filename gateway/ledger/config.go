package ledger

import (
	"errors"
	"fmt"
	"time"

	"github.com/idgate/idgate/gateway/wal"
)

// Config is the `store:` section: the SQLite file holding the ledger (and
// the admin API's key changes) and how entries are batched into it.
type Config struct {
	Path      string `yaml:"path"`
	QueueSize int    `yaml:"queue_size"`
	BatchSize int    `yaml:"batch_size"`
	// Linger is how long the writer waits for more entries to share one
	// transaction; it bounds how stale the ledger is, not any request.
	Linger time.Duration `yaml:"linger"`

	// Sync is the journal's promise (journal.go): "process" (default), an
	// entry is durable against a crash of the process before its answer is
	// written; "power", also against a power loss (an fdatasync per group
	// of entries). BENCHMARKS.md has what each costs.
	Sync wal.SyncMode `yaml:"sync"`
	// JournalDir holds the journal's segment files (default: the database
	// path with ".journal" appended; in shared mode, where the ledger is in
	// PostgreSQL, ".pgjournal"). Each replica needs its own, on local disk.
	JournalDir string `yaml:"journal_dir"`
	// JournalSegmentBytes is a segment's size; JournalMaxBytes bounds the
	// journal not yet released (beyond it billable requests are refused).
	JournalSegmentBytes int64 `yaml:"journal_segment_bytes"`
	JournalMaxBytes     int64 `yaml:"journal_max_bytes"`
	// Initialize starts an empty ledger where an existing database file is
	// empty or holds no ledger, or is missing beside its journal. Off, such
	// a start is refused: it would reset the day's quota.
	Initialize bool `yaml:"initialize"`

	// InFlight bounds how long a request can be under way (set from the
	// upstream timeout and retry deadline, not configured): the journal is
	// kept at least that long after a record.
	InFlight time.Duration `yaml:"-"`
}

// DefaultConfig: var/gateway/ledger.db, up to 1,024 entries a transaction,
// the journal beside it durable against a crash of the process.
func DefaultConfig() Config {
	return Config{Path: "var/gateway/ledger.db", QueueSize: 65536, BatchSize: 1024, Linger: 20 * time.Millisecond,
		Sync: wal.SyncProcess, JournalSegmentBytes: 16 << 20, JournalMaxBytes: 1 << 30, InFlight: time.Minute}
}

// Validate checks the path and the batching bounds.
func (c Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("store.path is empty"))
	}
	if c.QueueSize <= 0 || c.BatchSize <= 0 || c.Linger < 0 {
		errs = append(errs, errors.New("store.queue_size and store.batch_size must be positive, store.linger not negative"))
	}
	if err := (wal.Config{Dir: c.journalDir(), Sync: c.Sync, SegmentBytes: c.JournalSegmentBytes, MaxPendingBytes: c.JournalMaxBytes}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("store: journal: %w", err))
	}
	return errors.Join(errs...)
}

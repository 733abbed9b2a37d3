package ledger

import (
	"errors"
	"time"
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
}

// DefaultConfig: var/gateway/ledger.db, up to 1,024 entries a transaction.
func DefaultConfig() Config {
	return Config{Path: "var/gateway/ledger.db", QueueSize: 65536, BatchSize: 1024, Linger: 20 * time.Millisecond}
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
	return errors.Join(errs...)
}

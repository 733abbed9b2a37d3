package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go: no cgo in the build
)

// OpenDB opens (creating its directory) a SQLite database in WAL mode and
// brings the ledger's tables to the current schema version (migrate.go).
// The key store and verification sessions share the handle.
func OpenDB(path string) (*sql.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
	}
	// Automatic checkpoints (every 4 MB of WAL) would fsync inside the
	// writer's commits; the ledger checkpoints on a timer instead, which
	// means fewer fsyncs under load. A checkpoint can still stall the writer
	// on a slow disk; the queue absorbs that, and requests only wait when it
	// is full.
	// The path is escaped: in a file: URI a '#' or '?' in a directory name
	// would cut the path short.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_pragma=wal_autocheckpoint(0)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	ctx := context.Background()
	if err := migrate(ctx, db, migrations); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := db.ExecContext(ctx, rebuildUsage); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: rebuild daily usage: %w", err)
	}
	return db, nil
}

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
	// Only this first handle may create the file. The pool that serves
	// the process opens connections lazily, later: one of those must fail
	// on a file deleted under the process, not create an empty ledger in
	// its place (file.go).
	create, err := sql.Open("sqlite", dsn+"&mode=rwc")
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	ctx := context.Background()
	err = migrate(ctx, create, migrations)
	if err == nil {
		if _, err = create.ExecContext(ctx, rebuildUsage); err != nil {
			err = fmt.Errorf("ledger: rebuild daily usage: %w", err)
		}
	}
	if cerr := create.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("ledger: open %s: %w", path, cerr)
	}
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn+"&mode=rw")
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	return db, nil
}

// Package ledger records one entry per authenticated request in SQLite
// (pure Go, WAL). Requests hand entries to a bounded queue; one writer
// goroutine stores them in batches. A full queue blocks the request
// (backpressure) rather than dropping an entry: the ledger is the billing
// record and the source the quota rebuilds from after a restart.
package ledger

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go: no cgo in the build
)

// Entry is one request as the ledger keeps it. It holds no name and only
// the masked ID number.
type Entry struct {
	Time            time.Time
	Day             string // calendar day in the quota time zone, 2006-01-02
	RequestID       string
	Tenant          string
	KeyID           string
	Route           string
	Result          string // the result code, "" when there was none
	Class           string
	Billed          bool
	HTTPStatus      int
	UpstreamLatency time.Duration
	IDMasked        string
	// Attempts is the number of upstream calls made (retries included;
	// 0: answered without one).
	Attempts int

	ack chan struct{} // a flush barrier, not a row
}

// SQLite is the embedded ledger.
type SQLite struct {
	db     *sql.DB
	batch  int
	linger time.Duration
	w      *writer // the writer goroutine's only
	log    *slog.Logger
	done   chan struct{}
	cpDone chan struct{}

	// The queue: requests append under mu, and the writer takes everything
	// queued in one swap. A channel cost every request a lock shared with
	// the writer's per-entry receives; under load that contention showed as
	// the largest runtime cost of recording an entry.
	mu      sync.Mutex
	space   *sync.Cond // signalled when the writer takes the queue
	queue   []Entry    // entries and flush barriers, in order
	spare   []Entry    // the writer's previous batch, reused
	max     int        // queue bound; Record waits beyond it (backpressure)
	waiting int        // Records waiting for space
	barrier bool       // a Flush is queued: the writer does not linger
	closed  bool
	wake    chan struct{} // capacity 1: the queue became non-empty, or Close

	written atomic.Int64
	lastErr atomic.Pointer[error]
}

// Entries are stored narrow: what repeats from request to request (day,
// tenant, key, route, result, class, billed, HTTP status) is one row of
// ledger_dims, and each entry keeps only its own values plus that row's id.
// Per entry that is six values instead of thirteen, which halves the
// writer's CPU per entry (BenchmarkRecord) — the gateway's largest single
// cost after the network. The view named ledger joins them back, so every
// reader (export, counts, operators with the sqlite3 shell) sees one table.
const entryColumns = "ts, dim, request_id, upstream_us, id_masked, attempts"
const entryNcol = 6

// multiRows is how many rows one multi-row INSERT carries: one statement per
// chunk is several times cheaper than one per row in modernc's SQLite.
const multiRows = 64

const schema = `
CREATE TABLE IF NOT EXISTS ledger_dims (
	id          INTEGER PRIMARY KEY,
	day         TEXT    NOT NULL,
	tenant      TEXT    NOT NULL,
	key_id      TEXT    NOT NULL,
	route       TEXT    NOT NULL,
	result      TEXT    NOT NULL,
	class       TEXT    NOT NULL,
	billed      INTEGER NOT NULL,
	http_status INTEGER NOT NULL,
	UNIQUE (day, tenant, key_id, route, result, class, billed, http_status)
);
CREATE TABLE IF NOT EXISTS ledger_entries (
	id          INTEGER PRIMARY KEY,
	ts          INTEGER NOT NULL, -- unix nanoseconds
	dim         INTEGER NOT NULL REFERENCES ledger_dims(id),
	request_id  TEXT    NOT NULL,
	upstream_us INTEGER NOT NULL,
	id_masked   TEXT    NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0 -- upstream calls made
);
-- Daily counts per key and class, kept in the same transaction as the
-- entries: usage reports and the quota rebuild read a few rows instead of
-- scanning the ledger, and the ledger needs no index to maintain per insert.
CREATE TABLE IF NOT EXISTS usage_daily (
	day    TEXT    NOT NULL,
	tenant TEXT    NOT NULL,
	key_id TEXT    NOT NULL,
	class  TEXT    NOT NULL,
	count  INTEGER NOT NULL,
	PRIMARY KEY (day, tenant, key_id, class)
) WITHOUT ROWID;
DROP INDEX IF EXISTS ledger_day;
`

// ledgerView is created once the pre-view ledger table, if any, has been
// migrated (migrateWide).
const ledgerView = `
CREATE VIEW IF NOT EXISTS ledger AS
SELECT e.id, e.ts, d.day, e.request_id, d.tenant, d.key_id, d.route, d.result, d.class,
       d.billed, d.http_status, e.upstream_us, e.id_masked, e.attempts
FROM ledger_entries e JOIN ledger_dims d ON d.id = e.dim`

// exportColumns are the view's columns, in the CSV export's order.
const exportColumns = "ts, day, request_id, tenant, key_id, route, result, class, billed, http_status, upstream_us, id_masked, attempts"

// upsertDim returns the id of a dims row, adding it when new. DO UPDATE
// (a no-op write) rather than DO NOTHING, so RETURNING answers on conflict
// too; it runs once per new combination, not per entry.
const upsertDim = `
INSERT INTO ledger_dims(day, tenant, key_id, route, result, class, billed, http_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(day, tenant, key_id, route, result, class, billed, http_status) DO UPDATE SET day = excluded.day
RETURNING id`

// backfill builds usage_daily for a ledger written before it existed.
const backfill = `
INSERT INTO usage_daily(day, tenant, key_id, class, count)
SELECT day, tenant, key_id, class, COUNT(*) FROM ledger
WHERE NOT EXISTS (SELECT 1 FROM usage_daily)
GROUP BY day, tenant, key_id, class`

const upsertUsage = `
INSERT INTO usage_daily(day, tenant, key_id, class, count) VALUES (?, ?, ?, ?, ?)
ON CONFLICT(day, tenant, key_id, class) DO UPDATE SET count = count + excluded.count`

// OpenDB opens (creating its directory) a SQLite database in WAL mode. The
// key store shares the handle.
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
	// (t.TempDir() makes such names) would cut the path short.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_pragma=wal_autocheckpoint(0)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: schema: %w", err)
	}
	if err := migrateWide(db); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := db.Exec(ledgerView); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: view: %w", err)
	}
	if _, err := db.Exec(backfill); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: backfill usage: %w", err)
	}
	return db, nil
}

// New starts the writer over an open database. The writer waits up to
// linger after an entry for more to share its transaction (0: write what is
// queued at once).
func New(db *sql.DB, queueSize, batchSize int, linger time.Duration, log *slog.Logger) *SQLite {
	l := &SQLite{db: db, batch: max(batchSize, 1), linger: linger, log: log, done: make(chan struct{}), cpDone: make(chan struct{}),
		max: max(queueSize, 1), wake: make(chan struct{}, 1)}
	l.space = sync.NewCond(&l.mu)
	go l.run()
	go l.checkpoints(5 * time.Second)
	return l
}

// Record queues e; it blocks while the queue is full.
func (l *SQLite) Record(e Entry) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errors.New("ledger: closed")
	}
	// A Record that started before Close still gets its entry stored: the
	// writer keeps draining until nobody waits.
	for len(l.queue) >= l.max {
		l.waiting++
		l.space.Wait()
		l.waiting--
	}
	l.queue = append(l.queue, e)
	l.barrier = l.barrier || e.ack != nil
	first := len(l.queue) == 1
	l.mu.Unlock()
	if first {
		l.signal()
	}
	return nil
}

func (l *SQLite) signal() {
	select {
	case l.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Flush waits until every entry queued before the call is stored.
func (l *SQLite) Flush() error {
	ack := make(chan struct{})
	if err := l.Record(Entry{ack: ack}); err != nil {
		return err
	}
	<-ack
	return l.Err()
}

// QueueLen is the number of entries waiting (a metric).
func (l *SQLite) QueueLen() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// Written is the number of entries stored since start.
func (l *SQLite) Written() int64 { return l.written.Load() }

// Err is the last write error, nil once a later write succeeded.
func (l *SQLite) Err() error {
	if p := l.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Ping reports whether the database answers and the writer is healthy.
func (l *SQLite) Ping(ctx context.Context) error {
	if err := l.Err(); err != nil {
		return err
	}
	return l.db.PingContext(ctx)
}

// Close stops accepting entries, stores everything queued and closes the
// database.
func (l *SQLite) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.signal()
	<-l.done
	<-l.cpDone
	err := l.Err()
	// Fold the WAL into the database so the file is complete on its own.
	if _, cerr := l.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err == nil && cerr != nil {
		err = fmt.Errorf("ledger: checkpoint: %w", cerr)
	}
	if cerr := l.db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("ledger: close: %w", cerr)
	}
	return err
}

func (l *SQLite) run() {
	defer close(l.done)
	defer l.closeWriter()
	var acks []chan struct{}
	for {
		<-l.wake
		// Let a batch accumulate: one transaction per batch is what makes
		// the ledger cheap. Sleeping rather than waiting on every entry
		// means the writer is not woken once per request. A flush barrier,
		// a full batch or Close skips the wait.
		if l.linger > 0 && !l.urgent() {
			time.Sleep(l.linger)
		}
		l.mu.Lock()
		taken := l.queue
		l.queue, l.spare = l.spare[:0], nil
		l.barrier = false
		closing := l.closed && l.waiting == 0
		l.space.Broadcast()
		l.mu.Unlock()

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
		l.mu.Lock()
		l.spare = taken[:0]
		more := len(l.queue) > 0 || l.waiting > 0
		if closing && !more {
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		if more || l.closedNow() {
			l.signal()
		}
	}
}

// urgent reports whether the writer should not linger: a flush waits, the
// batch is full, or the ledger is closing.
func (l *SQLite) urgent() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed || l.barrier || len(l.queue) >= l.batch
}

func (l *SQLite) closedNow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// checkpoints copies the WAL into the database every interval, beside the
// writer (PASSIVE never blocks it), until the writer stops.
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

// chunkSizes are the multi-row INSERT shapes, prepared once on the writer's
// own connection: re-preparing per batch cost more than the inserts.
var chunkSizes = []int{multiRows, 8, 1}

// writer is the writer goroutine's dedicated connection. It talks to the
// driver directly (sql.Conn.Raw): database/sql would convert every argument
// into a fresh []driver.NamedValue on every Exec, which was half of the
// gateway's allocations. The driver statements live as long as the pinned
// connection, which nothing else uses.
type writer struct {
	conn  *sql.Conn
	stmts map[int]driver.Stmt
	usage driver.Stmt
	nv    []driver.NamedValue
	// boxed caches the driver.Value of repeated strings (tenant, key,
	// route, class, day, result): boxing each one per row allocated.
	boxed map[string]driver.Value
	// counts is reused per batch: (day, tenant, key, class) → entries.
	counts map[usageKey]int64
	// dim stores ledger_dims ids known to be committed; pending holds
	// those a batch added until its COMMIT succeeds (a rolled-back id may
	// be reused for another combination).
	dims    map[dimKey]int64
	pending map[dimKey]int64
	dimStmt driver.Stmt
}

type usageKey struct{ day, tenant, key, class string }

// dimKey is what a ledger_dims row holds.
type dimKey struct {
	day, tenant, key, route, result, class string
	billed                                 bool
	status                                 int
}

func dimOf(e *Entry) dimKey {
	return dimKey{e.Day, e.Tenant, e.KeyID, e.Route, e.Result, e.Class, e.Billed, e.HTTPStatus}
}

// maxDims bounds the id cache: combinations come and go with days and keys.
const maxDims = 1 << 16

func (l *SQLite) openWriter() (*writer, error) {
	ctx := context.Background()
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writer{conn: conn, stmts: map[int]driver.Stmt{}, nv: make([]driver.NamedValue, multiRows*entryNcol),
		boxed: map[string]driver.Value{}, counts: map[usageKey]int64{}, dims: map[dimKey]int64{}, pending: map[dimKey]int64{}}
	for i := range w.nv {
		w.nv[i].Ordinal = i + 1
	}
	err = conn.Raw(func(dc any) error {
		pc, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot prepare", dc)
		}
		var err error
		if w.usage, err = pc.PrepareContext(ctx, upsertUsage); err != nil {
			return err
		}
		if w.dimStmt, err = pc.PrepareContext(ctx, upsertDim); err != nil {
			return err
		}
		for _, n := range chunkSizes {
			st, err := pc.PrepareContext(ctx, insertEntriesSQL(n))
			if err != nil {
				return err
			}
			w.stmts[n] = st
		}
		return nil
	})
	if err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *writer) close() {
	_ = w.conn.Raw(func(any) error {
		for _, st := range w.stmts {
			st.Close()
		}
		if w.usage != nil {
			w.usage.Close()
		}
		if w.dimStmt != nil {
			w.dimStmt.Close()
		}
		return nil
	})
	w.conn.Close()
}

func (l *SQLite) closeWriter() {
	if l.w != nil {
		l.w.close()
		l.w = nil
	}
}

func (w *writer) box(s string) driver.Value {
	if v, ok := w.boxed[s]; ok {
		return v
	}
	if len(w.boxed) > 4096 { // bounded: new days, keys and tenants come and go
		clear(w.boxed)
	}
	var v driver.Value = s
	w.boxed[s] = v
	return v
}

var boxedBool = [2]driver.Value{int64(0), int64(1)}

func (l *SQLite) insert(buf []Entry) (err error) {
	if l.w == nil {
		if l.w, err = l.openWriter(); err != nil {
			return err
		}
	}
	w := l.w
	return w.conn.Raw(func(dc any) (err error) {
		ctx := context.Background()
		ex, ok := dc.(driver.ExecerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot exec", dc)
		}
		if _, err := ex.ExecContext(ctx, "BEGIN", nil); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				_, _ = ex.ExecContext(ctx, "ROLLBACK", nil)
			}
		}()
		clear(w.counts)
		for i := range buf {
			e := &buf[i]
			w.counts[usageKey{e.Day, e.Tenant, e.KeyID, e.Class}]++
		}
		for k, n := range w.counts {
			nv := w.nv[:5]
			nv[0].Value, nv[1].Value, nv[2].Value, nv[3].Value, nv[4].Value = w.box(k.day), w.box(k.tenant), w.box(k.key), w.box(k.class), n
			if _, err := w.usage.(driver.StmtExecContext).ExecContext(ctx, nv); err != nil {
				return err
			}
		}
		clear(w.pending)
		for len(buf) > 0 {
			n := 1
			for _, size := range chunkSizes {
				if len(buf) >= size {
					n = size
					break
				}
			}
			nv := w.nv[:n*entryNcol]
			for r := range buf[:n] {
				e := &buf[r]
				id, err := w.dimID(ctx, e)
				if err != nil {
					return err
				}
				v := nv[r*entryNcol : (r+1)*entryNcol]
				v[0].Value = e.Time.UnixNano()
				v[1].Value = id
				v[2].Value = e.RequestID
				v[3].Value = e.UpstreamLatency.Microseconds()
				v[4].Value = e.IDMasked
				v[5].Value = int64(e.Attempts)
			}
			if _, err := w.stmts[n].(driver.StmtExecContext).ExecContext(ctx, nv); err != nil {
				return err
			}
			buf = buf[n:]
			// Let request goroutines run between chunks: on a 2-core machine
			// a whole batch at once shows up in their tail latency.
			runtime.Gosched()
		}
		if _, err = ex.ExecContext(ctx, "COMMIT", nil); err != nil {
			return err
		}
		if len(w.dims)+len(w.pending) > maxDims {
			clear(w.dims)
		}
		for k, id := range w.pending {
			w.dims[k] = id
		}
		return nil
	})
}

// dimID is the ledger_dims id of e's repeated values, from the cache or,
// for a new combination, from the database inside the batch's transaction.
func (w *writer) dimID(ctx context.Context, e *Entry) (int64, error) {
	k := dimOf(e)
	if id, ok := w.dims[k]; ok {
		return id, nil
	}
	if id, ok := w.pending[k]; ok {
		return id, nil
	}
	billed := 0
	if e.Billed {
		billed = 1
	}
	args := []driver.NamedValue{
		{Ordinal: 1, Value: e.Day}, {Ordinal: 2, Value: e.Tenant}, {Ordinal: 3, Value: e.KeyID}, {Ordinal: 4, Value: e.Route},
		{Ordinal: 5, Value: e.Result}, {Ordinal: 6, Value: e.Class}, {Ordinal: 7, Value: boxedBool[billed]}, {Ordinal: 8, Value: int64(e.HTTPStatus)},
	}
	rows, err := w.dimStmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return 0, fmt.Errorf("dims: %w", err)
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		return 0, fmt.Errorf("dims: no id returned: %w", err)
	}
	id, ok := dest[0].(int64)
	if !ok {
		return 0, fmt.Errorf("dims: id %T", dest[0])
	}
	w.pending[k] = id
	return id, nil
}

func insertEntriesSQL(n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", entryNcol), ",") + ")"
	return "INSERT INTO ledger_entries(" + entryColumns + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+",", n), ",")
}

// migrateWide moves a ledger written before the narrow layout (one wide
// table named ledger, with or without the attempts column) into
// ledger_dims and ledger_entries, keeping entry ids and order, in one
// transaction: a crash leaves either the old table or the new ones.
func migrateWide(db *sql.DB) error {
	var kind string
	err := db.QueryRow(`SELECT type FROM sqlite_master WHERE name = 'ledger'`).Scan(&kind)
	if errors.Is(err, sql.ErrNoRows) || kind == "view" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ledger: migrate: %w", err)
	}
	var hasAttempts int
	if err := db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('ledger') WHERE name = 'attempts'`).Scan(&hasAttempts); err != nil {
		return fmt.Errorf("ledger: migrate: %w", err)
	}
	attempts := "0"
	if hasAttempts > 0 {
		attempts = "l.attempts"
	}
	tx, err := db.Begin()
	if err != nil {
		return fmt.Errorf("ledger: migrate: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`INSERT OR IGNORE INTO ledger_dims(day, tenant, key_id, route, result, class, billed, http_status)
		 SELECT DISTINCT day, tenant, key_id, route, result, class, billed, http_status FROM ledger`,
		`INSERT INTO ledger_entries(id, ts, dim, request_id, upstream_us, id_masked, attempts)
		 SELECT l.id, l.ts, d.id, l.request_id, l.upstream_us, l.id_masked, ` + attempts + ` FROM ledger l
		 JOIN ledger_dims d ON d.day = l.day AND d.tenant = l.tenant AND d.key_id = l.key_id AND d.route = l.route
		  AND d.result = l.result AND d.class = l.class AND d.billed = l.billed AND d.http_status = l.http_status
		 ORDER BY l.id`,
		`DROP TABLE ledger`,
		ledgerView,
	} {
		if _, err := tx.Exec(q); err != nil {
			return fmt.Errorf("ledger: migrate to narrow entries: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: migrate: %w", err)
	}
	return nil
}

// Counts maps tenant → key id → number of entries.
type Counts map[string]map[string]int64

// BilledOn counts billed entries of one day per tenant and key: the quota
// counters' starting point after a restart.
func (l *SQLite) BilledOn(ctx context.Context, day string) (Counts, error) {
	// cached_quota: cache hits a tenant's policy counts against its quota.
	rows, err := l.db.QueryContext(ctx, `SELECT tenant, key_id, count FROM usage_daily WHERE day = ? AND class IN ('billed', 'cached_quota')`, day)
	if err != nil {
		return nil, fmt.Errorf("ledger: billed on %s: %w", day, err)
	}
	defer rows.Close()
	out := Counts{}
	for rows.Next() {
		var t, k string
		var n int64
		if err := rows.Scan(&t, &k, &n); err != nil {
			return nil, fmt.Errorf("ledger: billed on %s: %w", day, err)
		}
		if out[t] == nil {
			out[t] = map[string]int64{}
		}
		out[t][k] += n
	}
	return out, rows.Err()
}

// UsageRow is the number of requests of one class, per tenant and day.
type UsageRow struct {
	Day    string `json:"day"`
	Tenant string `json:"tenant"`
	Class  string `json:"class"`
	Count  int64  `json:"count"`
}

// Filter selects ledger rows; empty fields match everything. Days are
// inclusive, 2006-01-02.
type Filter struct {
	Tenant string
	From   string
	To     string
}

func (f Filter) where() (string, []any) {
	var cond []string
	var args []any
	if f.Tenant != "" {
		cond, args = append(cond, "tenant = ?"), append(args, f.Tenant)
	}
	if f.From != "" {
		cond, args = append(cond, "day >= ?"), append(args, f.From)
	}
	if f.To != "" {
		cond, args = append(cond, "day <= ?"), append(args, f.To)
	}
	if len(cond) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(cond, " AND "), args
}

// Usage counts requests per day, tenant and class.
func (l *SQLite) Usage(ctx context.Context, f Filter) ([]UsageRow, error) {
	w, args := f.where()
	rows, err := l.db.QueryContext(ctx, `SELECT day, tenant, class, SUM(count) FROM usage_daily`+w+` GROUP BY day, tenant, class ORDER BY day, tenant, class`, args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: usage: %w", err)
	}
	defer rows.Close()
	out := []UsageRow{}
	for rows.Next() {
		var r UsageRow
		if err := rows.Scan(&r.Day, &r.Tenant, &r.Class, &r.Count); err != nil {
			return nil, fmt.Errorf("ledger: usage: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ExportHeader is the CSV header of Export.
var ExportHeader = []string{"time", "day", "request_id", "tenant", "key_id", "route", "result", "class", "billed", "http_status", "upstream_us", "id_masked", "attempts"}

// Export writes the selected entries as CSV, oldest first.
func (l *SQLite) Export(ctx context.Context, w io.Writer, f Filter) error {
	wh, args := f.where()
	rows, err := l.db.QueryContext(ctx, `SELECT `+exportColumns+` FROM ledger`+wh+` ORDER BY id`, args...)
	if err != nil {
		return fmt.Errorf("ledger: export: %w", err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	if err := cw.Write(ExportHeader); err != nil {
		return fmt.Errorf("ledger: export: %w", err)
	}
	var (
		ts, billed, status, us, att                 int64
		day, rid, tenant, key, route, res, cls, idm string
	)
	for rows.Next() {
		if err := rows.Scan(&ts, &day, &rid, &tenant, &key, &route, &res, &cls, &billed, &status, &us, &idm, &att); err != nil {
			return fmt.Errorf("ledger: export: %w", err)
		}
		rec := []string{time.Unix(0, ts).UTC().Format(time.RFC3339Nano), day, rid, tenant, key, route, res, cls,
			strconv.FormatBool(billed == 1), strconv.FormatInt(status, 10), strconv.FormatInt(us, 10), idm, strconv.FormatInt(att, 10)}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("ledger: export: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("ledger: export: %w", err)
	}
	return rows.Err()
}

// Count returns how many entries match (tests and reconciliation).
func (l *SQLite) Count(ctx context.Context, f Filter, billedOnly bool) (int64, error) {
	w, args := f.where()
	q := `SELECT COUNT(*) FROM ledger` + w
	if billedOnly {
		if w == "" {
			q += " WHERE billed = 1"
		} else {
			q += " AND billed = 1"
		}
	}
	var n int64
	if err := l.db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("ledger: count: %w", err)
	}
	return n, nil
}

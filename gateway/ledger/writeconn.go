package ledger

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"runtime"
)

// multiRows is how many rows one multi-row INSERT carries: one statement per
// chunk is several times cheaper than one per row in modernc's SQLite.
const multiRows = 64

// chunkSizes are the multi-row INSERT shapes, prepared once on the writer's
// own connection, largest first: preparing per batch would cost more than
// the inserts.
var chunkSizes = []int{multiRows, 8, 1}

// maxDims bounds the id cache: combinations come and go with days and keys.
const maxDims = 1 << 16

// maxBoxed bounds the boxed-string cache for the same reason.
const maxBoxed = 4096

// writeConn is the writer goroutine's dedicated connection. It talks to the
// driver directly (sql.Conn.Raw): database/sql would convert every argument
// into a fresh []driver.NamedValue on every Exec, allocating per entry,
// while writeConn reuses one slice. The driver statements live as long as
// the pinned connection, which nothing else uses.
type writeConn struct {
	conn  *sql.Conn
	stmts map[int]driver.Stmt // by chunk size
	usage driver.Stmt
	nv    []driver.NamedValue
	// boxed caches the driver.Value of repeated strings (tenant, key,
	// class, day): boxing each one per row would allocate.
	boxed map[string]driver.Value
	// counts is reused per batch: (day, tenant, key, class) → entries.
	counts map[usageKey]int64
	// dims holds ledger_dims ids known to be committed; pending holds
	// those a batch added until its COMMIT succeeds (a rolled-back id may
	// be reused for another combination).
	dims    map[dimKey]int64
	pending map[dimKey]int64
	dimStmt driver.Stmt
}

type usageKey struct{ day, tenant, key, class string }

// openWriteConn pins a connection of db and prepares the writer's
// statements on it.
func openWriteConn(db *sql.DB) (*writeConn, error) {
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writeConn{conn: conn, stmts: map[int]driver.Stmt{}, nv: make([]driver.NamedValue, multiRows*entryNcol),
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

func (w *writeConn) close() {
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

func (w *writeConn) box(s string) driver.Value {
	if v, ok := w.boxed[s]; ok {
		return v
	}
	if len(w.boxed) > maxBoxed {
		clear(w.boxed)
	}
	var v driver.Value = s
	w.boxed[s] = v
	return v
}

// insert stores buf in one transaction: the usage_daily counts, then the
// entries in multi-row chunks. Either all of it commits or none.
func (w *writeConn) insert(buf []Entry) error {
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
		if err := w.addUsage(ctx, buf); err != nil {
			return err
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
				for c, v := range entryRow(e, id) {
					nv[r*entryNcol+c].Value = v
				}
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

// addUsage adds buf's entries to their usage_daily rows, one statement per
// (day, tenant, key, class) rather than per entry.
func (w *writeConn) addUsage(ctx context.Context, buf []Entry) error {
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
	return nil
}

// dimID is the ledger_dims id of e's repeated values, from the cache or,
// for a new combination, from the database inside the batch's transaction.
func (w *writeConn) dimID(ctx context.Context, e *Entry) (int64, error) {
	k := dimOf(e)
	if id, ok := w.dims[k]; ok {
		return id, nil
	}
	if id, ok := w.pending[k]; ok {
		return id, nil
	}
	vals := k.args()
	args := make([]driver.NamedValue, len(vals))
	for i, v := range vals {
		args[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
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

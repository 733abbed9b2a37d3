package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture writes a database file with script run on it, without OpenDB:
// a ledger file as an earlier gateway left it.
func fixture(t *testing.T, name, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := old.Exec(script); err != nil {
		t.Fatal(err)
	}
	return path
}

// oldLedger writes a ledger file in the wide layout: one ledger table
// (columns: the layout's column list after id) and its rows.
func oldLedger(t *testing.T, name, columns, rows string) string {
	t.Helper()
	return fixture(t, name, `CREATE TABLE ledger (id INTEGER PRIMARY KEY, `+columns+`); `+rows)
}

// wideColumns is the wide layout without the attempts column.
const wideColumns = `ts INTEGER NOT NULL, day TEXT NOT NULL, request_id TEXT NOT NULL,
	tenant TEXT NOT NULL, key_id TEXT NOT NULL, route TEXT NOT NULL, result TEXT NOT NULL,
	class TEXT NOT NULL, billed INTEGER NOT NULL, http_status INTEGER NOT NULL,
	upstream_us INTEGER NOT NULL, id_masked TEXT NOT NULL`

// A wide ledger file without the attempts column opens, keeps
// its rows (attempts 0) and stores new entries with their attempts.
func TestAttemptsMigration(t *testing.T) {
	path := oldLedger(t, "old.db", wideColumns, `
		INSERT INTO ledger(ts, day, request_id, tenant, key_id, route, result, class, billed, http_status, upstream_us, id_masked)
		VALUES (1, '2026-11-22', 'old-1', 'acme', 'k', 'check-2e', '0', 'billed', 1, 200, 10, '110105********002X')`)

	for round := range 2 { // the second open must find the column and leave it
		l := open(t, path)
		if round == 0 {
			for i, a := range []int{1, 3} {
				if err := l.Record(Entry{Time: time.Unix(int64(2+i), 0), Day: "2026-11-22", RequestID: "new", Tenant: "acme", KeyID: "k",
					Route: "check-2e", Result: "0", Class: "billed", Billed: true, HTTPStatus: 200, Attempts: a}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		recs := exportCSV(t, l, Filter{})
		col := slices.Index(recs[0], "attempts")
		if len(recs) != 4 || col < 0 {
			t.Fatalf("round %d: export %v", round, recs)
		}
		for i, want := range []string{"0", "1", "3"} {
			if got := recs[i+1][col]; got != want {
				t.Errorf("round %d row %d: attempts %s, want %s", round, i, got, want)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A wide ledger (one table, without ledger_dims) with several tenants and
// classes moves to the narrow tables with its ids, order and values, and
// the ledger view reads it back unchanged.
func TestWideLedgerMigration(t *testing.T) {
	path := oldLedger(t, "wide.db", wideColumns+`, attempts INTEGER NOT NULL DEFAULT 0`, `
		INSERT INTO ledger VALUES
		 (5, 1, '2026-11-21', 'r1', 'acme', 'k1', 'check-2e', '0', 'billed', 1, 200, 10, '110105********002X', 1),
		 (7, 2, '2026-11-21', 'r2', 'acme', 'k1', 'check-2e', '-2', 'local_reject', 0, 200, 0, '110105********0021', 0),
		 (9, 3, '2026-11-22', 'r3', 'beta', 'k2', 'check-2e', '0', 'billed', 1, 200, 12, '110105********002X', 2),
		 (11, 4, '2026-11-22', 'r4', 'acme', 'k1', 'check-2e', '0', 'billed', 1, 200, 11, '110105********002X', 3)`)

	l := open(t, path)
	defer l.Close()
	if err := l.Record(Entry{Time: time.Unix(5, 0), Day: "2026-11-22", RequestID: "r5", Tenant: "beta", KeyID: "k2",
		Route: "check-2e", Result: "0", Class: "billed", Billed: true, HTTPStatus: 200, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, err := l.db.Query(`SELECT id, request_id, tenant, day, class, billed, attempts FROM ledger ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id, billed, att int
		var rid, tenant, day, class string
		if err := rows.Scan(&id, &rid, &tenant, &day, &class, &billed, &att); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %s %s %s %d %d", id, rid, tenant, day, class, billed, att))
	}
	want := []string{
		"5 r1 acme 2026-11-21 billed 1 1", "7 r2 acme 2026-11-21 local_reject 0 0",
		"9 r3 beta 2026-11-22 billed 1 2", "11 r4 acme 2026-11-22 billed 1 3", "12 r5 beta 2026-11-22 billed 1 1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after migration:\n got %v\nwant %v", got, want)
	}
	var dims int
	if err := l.db.QueryRow(`SELECT COUNT(*) FROM ledger_dims`).Scan(&dims); err != nil || dims != 4 {
		t.Fatalf("ledger_dims rows %d (%v), want 4 distinct combinations", dims, err)
	}
	counts, err := l.BilledOn(context.Background(), "2026-11-22")
	if err != nil || counts["acme"]["k1"] != 1 || counts["beta"]["k2"] != 2 {
		t.Fatalf("usage after migration: %v, %v", counts, err)
	}
}

// A ledger whose usage_daily counts are missing (entries older than the
// table, or counts an operator cleared) gets them back on open.
func TestBackfillUsage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := open(t, path)
	for i := 0; i < 10; i++ {
		l.Record(Entry{Time: time.Now(), Day: "2026-11-21", Tenant: "t", KeyID: "k", Class: "billed", Billed: true})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM usage_daily`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	l2 := open(t, path)
	defer l2.Close()
	counts, err := l2.BilledOn(context.Background(), "2026-11-21")
	if err != nil || counts["t"]["k"] != 10 {
		t.Fatalf("after backfill: %v, %v", counts, err)
	}
}

// version1 is the ledger's schema at version 1 exactly as gateways wrote
// it before versions were recorded: a file holding it has no
// ledger_schema_migrations table. It is a frozen copy: it must not follow
// later changes to schema.go.
const version1 = `
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
CREATE TABLE IF NOT EXISTS usage_daily (
	day    TEXT    NOT NULL,
	tenant TEXT    NOT NULL,
	key_id TEXT    NOT NULL,
	class  TEXT    NOT NULL,
	count  INTEGER NOT NULL,
	PRIMARY KEY (day, tenant, key_id, class)
) WITHOUT ROWID;
DROP INDEX IF EXISTS ledger_day;
CREATE VIEW IF NOT EXISTS ledger AS
SELECT e.id, e.ts, d.day, e.request_id, d.tenant, d.key_id, d.route, d.result, d.class,
       d.billed, d.http_status, e.upstream_us, e.id_masked, e.attempts
FROM ledger_entries e JOIN ledger_dims d ON d.id = e.dim;
`

// version1Rows are a version-1 ledger's entries and counts, with the key
// store's table beside them as in a gateway's file.
const version1Rows = `
INSERT INTO ledger_dims VALUES
 (1, '2026-11-21', 'acme', 'k1', 'check-2e', '0', 'billed', 1, 200),
 (2, '2026-11-21', 'acme', 'k1', 'check-2e', '-2', 'local_reject', 0, 200),
 (3, '2026-11-22', 'beta', 'k2', 'check-2e', '0', 'billed', 1, 200);
INSERT INTO ledger_entries VALUES
 (1, 1000, 1, 'r1', 10, '110105********002X', 1),
 (2, 2000, 2, 'r2', 0, '110105********0021', 0),
 (3, 3000, 1, 'r3', 11, '110105********002X', 2),
 (4, 4000, 3, 'r4', 12, '110105********002X', 1);
INSERT INTO usage_daily VALUES
 ('2026-11-21', 'acme', 'k1', 'billed', 2),
 ('2026-11-21', 'acme', 'k1', 'local_reject', 1),
 ('2026-11-22', 'beta', 'k2', 'billed', 1);
CREATE TABLE api_keys (id TEXT PRIMARY KEY, tenant TEXT NOT NULL);
INSERT INTO api_keys VALUES ('k1', 'acme');
`

// versions lists the schema versions recorded in the file at path.
func versions(t *testing.T, path string) []int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT version FROM ledger_schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// allVersions is what a file at the current schema version records.
func allVersions() []int {
	var out []int
	for _, m := range migrations {
		out = append(out, m.version)
	}
	return out
}

// A ledger file at version 1 with no version recorded opens with every
// entry, id, count and neighbouring table intact, is brought to the
// current version, keeps storing entries after its last id, and is not
// migrated again on the next open.
func TestOpenVersion1Ledger(t *testing.T) {
	path := fixture(t, "v1.db", version1+version1Rows)
	ctx := context.Background()
	wantRows := []string{
		"1970-01-01T00:00:00.000001Z 2026-11-21 r1 acme k1 0 billed true 10 1",
		"1970-01-01T00:00:00.000002Z 2026-11-21 r2 acme k1 -2 local_reject false 0 0",
		"1970-01-01T00:00:00.000003Z 2026-11-21 r3 acme k1 0 billed true 11 2",
		"1970-01-01T00:00:00.000004Z 2026-11-22 r4 beta k2 0 billed true 12 1",
	}
	for round := range 2 {
		l := open(t, path)
		if round == 0 {
			if err := l.Record(Entry{Time: time.Unix(0, 5000), Day: "2026-11-22", RequestID: "r5", Tenant: "beta", KeyID: "k2",
				Route: "check-2e", Result: "0", Class: "billed", Billed: true, HTTPStatus: 200, UpstreamLatency: 13 * time.Microsecond, Attempts: 1}); err != nil {
				t.Fatal(err)
			}
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for _, r := range exportCSV(t, l, Filter{})[1:] {
			// time, day, request, tenant, key, result, class, billed, upstream µs, attempts
			got = append(got, strings.Join([]string{r[0], r[1], r[2], r[3], r[4], r[6], r[7], r[8], r[10], r[12]}, " "))
		}
		want := append(append([]string{}, wantRows...), "1970-01-01T00:00:00.000005Z 2026-11-22 r5 beta k2 0 billed true 13 1")
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d: entries\n got %v\nwant %v", round, got, want)
		}
		var lastID, dims, keys int
		if err := l.db.QueryRow(`SELECT MAX(id) FROM ledger`).Scan(&lastID); err != nil || lastID != 5 {
			t.Fatalf("round %d: last entry id %d (%v), want 5", round, lastID, err)
		}
		if err := l.db.QueryRow(`SELECT COUNT(*) FROM ledger_dims`).Scan(&dims); err != nil || dims != 3 {
			t.Fatalf("round %d: ledger_dims rows %d (%v), want the 3 kept and reused", round, dims, err)
		}
		if err := l.db.QueryRow(`SELECT COUNT(*) FROM api_keys`).Scan(&keys); err != nil || keys != 1 {
			t.Fatalf("round %d: api_keys rows %d (%v), want 1", round, keys, err)
		}
		counts, err := l.BilledOn(ctx, "2026-11-21")
		if err != nil || counts["acme"]["k1"] != 2 {
			t.Fatalf("round %d: billed on 2026-11-21 %v, %v", round, counts, err)
		}
		if counts, err = l.BilledOn(ctx, "2026-11-22"); err != nil || counts["beta"]["k2"] != 2 {
			t.Fatalf("round %d: billed on 2026-11-22 %v, %v", round, counts, err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if got := versions(t, path); fmt.Sprint(got) != fmt.Sprint(allVersions()) {
			t.Fatalf("round %d: versions recorded %v, want %v", round, got, allVersions())
		}
	}
}

// Gateways opening the same unversioned file at once apply each step once
// between them and all open it.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	path := fixture(t, "v1.db", `PRAGMA journal_mode=WAL;`+version1+version1Rows)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := OpenDB(path)
			if err != nil {
				errs <- err
				return
			}
			errs <- db.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := versions(t, path); fmt.Sprint(got) != fmt.Sprint(allVersions()) {
		t.Fatalf("versions recorded %v, want %v", got, allVersions())
	}
}

// The migration runner applies numbered steps in order, each once; a
// failing step keeps nothing of itself and leaves the version where it
// was; a version above the known steps, or steps out of order, are refused.
func TestMigrateSteps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "steps.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var applied []int
	step := func(v int, script string) migration {
		return migration{version: v, name: fmt.Sprintf("step %d", v), apply: func(ctx context.Context, tx schemaTx) error {
			applied = append(applied, v)
			_, err := tx.ExecContext(ctx, script)
			return err
		}}
	}
	steps := []migration{
		step(1, `CREATE TABLE a (n INTEGER)`),
		step(2, `INSERT INTO a VALUES (1)`),
	}
	for range 2 {
		if err := migrate(ctx, db, steps); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(applied) != "[1 2]" {
		t.Fatalf("applied %v, want [1 2] once each", applied)
	}

	failing := append(steps[:2:2], migration{version: 3, name: "step 3", apply: func(ctx context.Context, tx schemaTx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE b (n INTEGER); INSERT INTO a VALUES (2)`); err != nil {
			return err
		}
		return errors.New("step failed")
	}})
	if err := migrate(ctx, db, failing); err == nil || !strings.Contains(err.Error(), "step failed") {
		t.Fatalf("failing step: %v", err)
	}
	var tables, rows int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("failed step's table kept: %d, %v", tables, err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM a`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("failed step's row kept: %d rows, %v", rows, err)
	}
	if v, err := schemaVersion(ctx, db); err != nil || v != 2 {
		t.Fatalf("version after failed step %d, %v; want 2", v, err)
	}

	applied = nil
	if err := migrate(ctx, db, append(steps[:2:2], step(3, `CREATE TABLE b (n INTEGER)`))); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(applied) != "[3]" {
		t.Fatalf("applied %v, want only [3]", applied)
	}
	if err := migrate(ctx, db, steps); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("version 3 with 2 known steps: %v", err)
	}
	if err := migrate(ctx, db, []migration{step(2, `SELECT 1`)}); err == nil {
		t.Fatal("a list starting at step 2 was accepted")
	}
}

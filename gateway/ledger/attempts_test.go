package ledger

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// oldLedger writes a ledger file in an earlier layout: the wide ledger
// table (columns: the layout's column list after id) and its rows.
func oldLedger(t *testing.T, name, columns, rows string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := old.Exec(`CREATE TABLE ledger (id INTEGER PRIMARY KEY, ` + columns + `); ` + rows); err != nil {
		t.Fatal(err)
	}
	return path
}

// wideColumns is the wide layout before the attempts column.
const wideColumns = `ts INTEGER NOT NULL, day TEXT NOT NULL, request_id TEXT NOT NULL,
	tenant TEXT NOT NULL, key_id TEXT NOT NULL, route TEXT NOT NULL, result TEXT NOT NULL,
	class TEXT NOT NULL, billed INTEGER NOT NULL, http_status INTEGER NOT NULL,
	upstream_us INTEGER NOT NULL, id_masked TEXT NOT NULL`

// A ledger file written before the attempts column existed opens, keeps
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
		var buf bytes.Buffer
		if err := l.Export(context.Background(), &buf, Filter{}); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 4 || recs[0][len(recs[0])-1] != "attempts" {
			t.Fatalf("round %d: export %v", round, recs)
		}
		for i, want := range []string{"0", "1", "3"} {
			if got := recs[i+1][len(recs[i+1])-1]; got != want {
				t.Errorf("round %d row %d: attempts %s, want %s", round, i, got, want)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A wide ledger (the layout before ledger_dims) with several tenants and
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

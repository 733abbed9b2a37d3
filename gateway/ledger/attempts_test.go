package ledger

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"path/filepath"
	"testing"
	"time"
)

// A ledger file written before the attempts column existed opens, keeps
// its rows (attempts 0) and stores new entries with their attempts.
func TestAttemptsMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`CREATE TABLE ledger (
		id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, day TEXT NOT NULL, request_id TEXT NOT NULL,
		tenant TEXT NOT NULL, key_id TEXT NOT NULL, route TEXT NOT NULL, result TEXT NOT NULL,
		class TEXT NOT NULL, billed INTEGER NOT NULL, http_status INTEGER NOT NULL,
		upstream_us INTEGER NOT NULL, id_masked TEXT NOT NULL);
		INSERT INTO ledger(ts, day, request_id, tenant, key_id, route, result, class, billed, http_status, upstream_us, id_masked)
		VALUES (1, '2026-11-22', 'old-1', 'acme', 'k', 'check-2e', '0', 'billed', 1, 200, 10, '110105********002X')`); err != nil {
		t.Fatal(err)
	}
	old.Close()

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

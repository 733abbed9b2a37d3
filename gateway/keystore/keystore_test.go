package keystore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/ledger"
)

var (
	sealKey  = bytes.Repeat([]byte{7}, 32)
	otherKey = bytes.Repeat([]byte{8}, 32)
)

const pairSecret = "TENCENT-SECRET-KEY-never-at-rest"

func openDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.db")
	db, err := ledger.OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func withPair(id string) auth.Override {
	return auth.Override{KeyID: id, TenantID: "t1", Digest: sha256.Sum256([]byte("bearer-" + id)), Rate: 1, Burst: 1,
		SecretID: "AKID" + id, SecretKey: pairSecret}
}

func TestPairSealedAtRest(t *testing.T) {
	db, path := openDB(t)
	ctx := context.Background()
	s, err := New(db, sealKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, withPair("k1")); err != nil {
		t.Fatal(err)
	}
	plain := auth.Override{KeyID: "k2", TenantID: "t1", Digest: sha256.Sum256([]byte("b2")), Rate: 1, Burst: 1}
	if err := s.Put(ctx, plain); err != nil {
		t.Fatal(err)
	}
	got, err := s.Overrides(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].SecretID != "AKIDk1" || got[0].SecretKey != pairSecret || got[1].SecretID != "" || got[1].SecretKey != "" {
		t.Fatalf("overrides %+v", got)
	}

	// Not in any column, nor anywhere in the database's files.
	var row []byte
	rows, err := db.Query(`SELECT * FROM api_keys`)
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				row = append(row, v...)
			case string:
				row = append(row, v...)
			}
		}
	}
	rows.Close()
	if bytes.Contains(row, []byte(pairSecret)) {
		t.Fatal("the SecretKey is stored in plain")
	}
	for _, f := range []string{path, path + "-wal"} {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(pairSecret)) {
			t.Fatalf("the SecretKey is in %s", filepath.Base(f))
		}
	}

	// Without the key, or with another, a stored pair does not open.
	if _, err := mustNew(t, db, nil).Overrides(ctx); !errors.Is(err, ErrNoSealingKey) {
		t.Fatalf("no sealing key: %v", err)
	}
	if err := mustNew(t, db, nil).Put(ctx, withPair("k3")); !errors.Is(err, ErrNoSealingKey) {
		t.Fatalf("put without a sealing key: %v", err)
	}
	if _, err := mustNew(t, db, otherKey).Overrides(ctx); !errors.Is(err, ErrUnseal) {
		t.Fatalf("other sealing key: %v", err)
	}

	// A sealed value moved to another row does not open there.
	if err := s.Put(ctx, withPair("k4")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE api_keys SET secret_key_sealed = (SELECT secret_key_sealed FROM api_keys WHERE id='k1') WHERE id='k4'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Overrides(ctx); !errors.Is(err, ErrUnseal) {
		t.Fatalf("moved sealed value: %v", err)
	}
}

func mustNew(t *testing.T, db *sql.DB, key []byte) *SQLite {
	t.Helper()
	s, err := New(db, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A store made before pairs existed gains their columns; its rows read
// as keys without a pair.
func TestUpgradesAnOlderTable(t *testing.T) {
	db, _ := openDB(t)
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("old"))
	if _, err := db.Exec(`INSERT INTO api_keys VALUES ('old', 't1', ?, 0, 1, 1, 0, 0)`, d[:]); err != nil {
		t.Fatal(err)
	}
	s := mustNew(t, db, nil)
	got, err := s.Overrides(context.Background())
	if err != nil || len(got) != 1 || got[0].KeyID != "old" || got[0].Digest != d || got[0].SecretID != "" {
		t.Fatalf("%+v %v", got, err)
	}
	mustNew(t, db, nil) // idempotent
}

func TestSealerRefusesBadKeys(t *testing.T) {
	if _, err := NewSealer(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte key")
	}
	if _, err := New(nil, make([]byte, 31)); err == nil {
		t.Fatal("a 31-byte key")
	}
}

package testkit

import (
	"context"
	"testing"
)

func TestSharedStoresConnect(t *testing.T) {
	c := SharedStores(t, "", "")
	conns := Conns(t, c)
	ctx := context.Background()
	if err := conns.Redis.Set(ctx, conns.Key("probe"), "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conns.PG.QueryRow(ctx, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", c.Postgres.Schema).Scan(&n); err != nil || n != 1 {
		t.Fatalf("schema %s: n=%d err=%v", c.Postgres.Schema, n, err)
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"redis://127.0.0.1:6379/0":                           "127.0.0.1:6379",
		"postgres://u:p@127.0.0.1:5432/test?sslmode=disable": "127.0.0.1:5432",
	} {
		if got := HostPort(in); got != want {
			t.Errorf("HostPort(%q) = %q, want %q", in, got, want)
		}
	}
}

package testkit

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A private redis-server comes back empty on the same port after a kill.
func TestRedisServerRestartsEmpty(t *testing.T) {
	r := StartRedisServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n := r.DBSize(t); n != 1 {
		t.Fatalf("dbsize %d, want 1", n)
	}
	r.Kill(t)
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("redis-server answers after a kill")
	}
	r.Restart(t)
	if n := r.DBSize(t); n != 0 {
		t.Fatalf("dbsize %d after the restart, want 0", n)
	}
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("the old client after the restart: %v", err)
	}
}

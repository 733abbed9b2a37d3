package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/idgate/idgate/gateway/stores"
	"github.com/idgate/idgate/internal/secret"
)

// The machine's shared stores; IDGATE_TEST_REDIS_URL and
// IDGATE_TEST_POSTGRES_URL point the tests elsewhere.
var (
	RedisURL    = envOr("IDGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
	PostgresURL = envOr("IDGATE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// uniqueName is a fresh lower-case name for a test's prefix or schema.
func uniqueName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// Redis connects to the machine's Redis and returns a fresh key prefix;
// the test's cleanup deletes every key under it. A missing Redis fails
// the test under CI=true and skips it elsewhere.
func Redis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL)
	if err != nil {
		t.Fatalf("IDGATE_TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = rdb.Ping(ctx).Err()
	if err != nil {
		rdb.Close()
	}
	Need(t, err == nil, "Redis is not reachable at "+RedisURL+" (start the machine's redis-server)")
	prefix := uniqueName("idgtest")
	t.Cleanup(func() {
		DeleteRedisPrefix(t, rdb, prefix)
		rdb.Close()
	})
	return rdb, prefix
}

// DeleteRedisPrefix deletes every key under prefix (hash-tagged or not).
func DeleteRedisPrefix(t testing.TB, rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	for _, pattern := range []string{prefix + ":*", "*" + prefix + "*"} {
		iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				t.Logf("cleanup: redis del %s*: %v", prefix, err)
			}
		}
	}
}

// Postgres checks the machine's PostgreSQL and returns its URL and a
// fresh schema name; the test's cleanup drops the schema. A missing
// PostgreSQL fails the test under CI=true and skips it elsewhere.
func Postgres(t testing.TB) (url, schema string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, PostgresURL)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	Need(t, err == nil, "PostgreSQL is not reachable at "+PostgresURL+" (start the machine's postgresql)")
	schema = uniqueName("idgtest")
	t.Cleanup(func() { DropSchema(t, schema) })
	return PostgresURL, schema
}

// DropSchema drops a test's schema and everything in it.
func DropSchema(t testing.TB, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, PostgresURL)
	if err != nil {
		t.Logf("cleanup: postgres: %v", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Logf("cleanup: drop schema %s: %v", schema, err)
	}
}

// SharedStores is a shared-mode stores section on the machine's Redis and
// PostgreSQL with a fresh prefix and schema, both removed after the test.
// redisURL and postgresURL, when not empty, replace the machine's (a
// test's own TCP proxy in front of them).
func SharedStores(t testing.TB, redisURL, postgresURL string) stores.Config {
	t.Helper()
	_, prefix := Redis(t)
	pg, schema := Postgres(t)
	if redisURL == "" {
		redisURL = RedisURL
	}
	if postgresURL == "" {
		postgresURL = pg
	}
	c := stores.DefaultConfig()
	c.Mode = stores.Shared
	c.Redis.URL, c.Redis.Prefix = secret.Secret(redisURL), prefix
	c.Postgres.URL, c.Postgres.Schema = secret.Secret(postgresURL), schema
	return c
}

// Conns connects a shared-mode stores section (closed after the test).
func Conns(t testing.TB, c stores.Config) *stores.Conns {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conns, err := stores.Connect(ctx, c)
	if err != nil {
		t.Fatalf("stores.Connect: %v", err)
	}
	t.Cleanup(func() { conns.Close() })
	return conns
}

// HostPort is the host:port of a redis:// or postgres:// URL.
func HostPort(url string) string {
	rest := url[strings.Index(url, "://")+3:]
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// DownRedis is shared-store connections, configured by c, to a Redis that
// does not answer (nothing listens on 127.0.0.1:1): every call fails at
// once, as with a Redis that is down.
func DownRedis(t testing.TB, c stores.Config) *stores.Conns {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 20 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	return stores.New(c, rdb, nil)
}

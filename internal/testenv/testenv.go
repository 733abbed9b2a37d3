// Package testenv gives tests the real shared services (PostgreSQL, Redis)
// the machine runs. A missing service fails the test under CI=true and skips
// it elsewhere, with a message that says how to start it.
package testenv

import (
	"net"
	"os"
	"testing"
	"time"
)

// Defaults match the services the development machine and CI start.
const (
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedisAddr   = "127.0.0.1:6379"
)

// PostgresURL returns IDGATE_TEST_POSTGRES_URL or the default, after
// checking that something listens there.
func PostgresURL(t testing.TB) string {
	t.Helper()
	url := getenv("IDGATE_TEST_POSTGRES_URL", DefaultPostgresURL)
	require(t, "PostgreSQL", "127.0.0.1:5432", "IDGATE_TEST_POSTGRES_URL")
	return url
}

// RedisAddr returns IDGATE_TEST_REDIS_ADDR or the default, after checking
// that something listens there.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := getenv("IDGATE_TEST_REDIS_ADDR", DefaultRedisAddr)
	require(t, "Redis", addr, "IDGATE_TEST_REDIS_ADDR")
	return addr
}

// CI reports whether the tests run under CI, where nothing may be skipped.
func CI() bool { return os.Getenv("CI") == "true" }

func require(t testing.TB, name, addr, env string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return
	}
	msg := name + " is not reachable at " + addr + " (" + err.Error() + "); start it or set " + env
	if CI() {
		t.Fatalf("testenv: %s", msg)
	}
	t.Skipf("testenv: %s", msg)
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

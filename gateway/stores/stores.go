package stores

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Conns holds the connections to the shared stores and their guards.
type Conns struct {
	Config Config
	Redis  redis.UniversalClient
	// Hot is the client for the calls every request makes (the quota's
	// script): go-redis's auto-pipeliner over Redis, which writes the
	// calls of concurrent requests together, so a busy replica pays one
	// system call per batch, not per request. Each call keeps its own
	// reply; a batch is waited for whole, so a caller bounds its own wait
	// (the quota does). It is Redis itself when the client offers none.
	Hot redis.UniversalClient
	PG  *pgxpool.Pool
	// RedisGuard and PGGuard bound the calls on a request's path.
	RedisGuard *Guard
	PGGuard    *Guard
}

// Connect connects both stores (shared mode). Both must answer at start: a
// replica that cannot count quota or record billing does not start.
func Connect(ctx context.Context, c Config) (*Conns, error) {
	rdb, err := OpenRedis(ctx, c.Redis)
	if err != nil {
		return nil, err
	}
	pg, err := OpenPostgres(ctx, c.Postgres)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	conns := New(c, rdb, pg)
	if ap, err := rdb.AutoPipeline(); err == nil {
		conns.Hot = ap
	}
	return conns, nil
}

// New holds connections made elsewhere (tests, a Redis that does not
// answer) with the guards c configures; Connect uses it for its own.
func New(c Config, rdb redis.UniversalClient, pg *pgxpool.Pool) *Conns {
	return &Conns{
		Config: c, Redis: rdb, PG: pg,
		RedisGuard: NewGuard("redis", c.Redis.Timeout, c.Breaker),
		PGGuard:    NewGuard("postgres", c.Postgres.Timeout, c.Breaker),
	}
}

// Key is a Redis key under the configured prefix.
func (s *Conns) Key(parts ...string) string {
	k := s.Config.Redis.Prefix
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

// Check is one store's answer to a readiness probe (Err nil: it answers).
type Check struct {
	Store string
	Err   error
}

// Ready pings each store through its guard, so a store whose breaker is
// open is not ready (/readyz).
func (s *Conns) Ready(ctx context.Context) []Check {
	return []Check{
		{"redis", s.RedisGuard.Do(ctx, func(ctx context.Context) error { return s.Redis.Ping(ctx).Err() })},
		{"postgres", s.PGGuard.Do(ctx, func(ctx context.Context) error { return s.PG.Ping(ctx) })},
	}
}

// Close closes both connections.
func (s *Conns) Close() error {
	if ap, ok := s.Hot.(*redis.AutoPipeliner); ok {
		ap.Close()
	}
	s.PG.Close()
	if err := s.Redis.Close(); err != nil {
		return fmt.Errorf("stores: redis: close: %w", err)
	}
	return nil
}

// HotRedis is Hot, or Redis for connections made without one (tests).
func (c *Conns) HotRedis() redis.UniversalClient {
	if c.Hot != nil {
		return c.Hot
	}
	return c.Redis
}

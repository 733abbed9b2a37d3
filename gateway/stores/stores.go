package stores

import (
	"context"
	"errors"
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
	var hot redis.UniversalClient = rdb
	if ap, err := rdb.AutoPipeline(); err == nil {
		hot = ap
	}
	return &Conns{
		Config: c, Redis: rdb, Hot: hot, PG: pg,
		RedisGuard: NewGuard("redis", c.Redis.Timeout, c.Breaker),
		PGGuard:    NewGuard("postgres", c.Postgres.Timeout, c.Breaker),
	}, nil
}

// Key is a Redis key under the configured prefix.
func (s *Conns) Key(parts ...string) string {
	k := s.Config.Redis.Prefix
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

// Ready reports each store's state: nil when both answer. /readyz calls
// it; a store whose breaker is open is not ready.
func (s *Conns) Ready(ctx context.Context) error {
	var errs []error
	if err := s.RedisGuard.Do(ctx, func(ctx context.Context) error { return s.Redis.Ping(ctx).Err() }); err != nil {
		errs = append(errs, err)
	}
	if err := s.PGGuard.Do(ctx, func(ctx context.Context) error { return s.PG.Ping(ctx) }); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
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

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
	PG     *pgxpool.Pool
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
	return &Conns{
		Config: c, Redis: rdb, PG: pg,
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
	s.PG.Close()
	if err := s.Redis.Close(); err != nil {
		return fmt.Errorf("stores: redis: close: %w", err)
	}
	return nil
}

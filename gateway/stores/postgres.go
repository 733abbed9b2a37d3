package stores

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenPostgres connects a pool whose connections use c.Schema (created
// when missing) and checks that PostgreSQL answers. Each concern creates
// its own tables in it (its Migrate).
func OpenPostgres(ctx context.Context, c PostgresConfig) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(c.URL.Reveal())
	if err != nil {
		return nil, fmt.Errorf("stores.postgres.url: not a PostgreSQL DSN or URL") // it may hold a password: never quoted
	}
	if c.MaxConns > 0 {
		pc.MaxConns = c.MaxConns
	}
	pc.ConnConfig.RuntimeParams["search_path"] = c.Schema
	pc.ConnConfig.RuntimeParams["application_name"] = "idgate-gateway"
	if err := createSchema(ctx, pc.ConnConfig, c.Schema); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("stores: postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("stores: postgres: %w", err)
	}
	return pool, nil
}

// createSchema makes the schema on a connection of its own: the pool's
// connections name it in their search_path from the start.
func createSchema(ctx context.Context, cc *pgx.ConnConfig, schema string) error {
	cc = cc.Copy()
	delete(cc.RuntimeParams, "search_path")
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("stores: postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("stores: postgres: create schema: %w", err)
	}
	return nil
}

package stores

import (
	"context"
	"fmt"
	"net/url"

	"github.com/redis/go-redis/v9"
)

// redisOptions reads a go-redis URL into universal options: a Sentinel
// URL (master_name), a Cluster URL (addr repeated), or one node.
func redisOptions(raw string) (*redis.UniversalOptions, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("stores.redis.url: not a URL") // the URL may hold a password: never quoted
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, fmt.Errorf("stores.redis.url (sentinel): %w", redactURLErr(err))
		}
		return &redis.UniversalOptions{
			Addrs: o.SentinelAddrs, MasterName: o.MasterName, SentinelUsername: o.SentinelUsername,
			SentinelPassword: o.SentinelPassword, Username: o.Username, Password: o.Password, DB: o.DB,
			TLSConfig: o.TLSConfig, DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
			PoolSize: o.PoolSize,
		}, nil
	case q.Has("addr"):
		o, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, fmt.Errorf("stores.redis.url (cluster): %w", redactURLErr(err))
		}
		return &redis.UniversalOptions{
			Addrs: o.Addrs, IsClusterMode: true, Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
			DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout, PoolSize: o.PoolSize,
		}, nil
	default:
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("stores.redis.url: %w", redactURLErr(err))
		}
		return &redis.UniversalOptions{
			Addrs: []string{o.Addr}, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig,
			DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout, PoolSize: o.PoolSize,
		}, nil
	}
}

// redactURLErr keeps go-redis's parse error without the URL it may quote.
func redactURLErr(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// OpenRedis connects the universal client and checks that Redis answers.
func OpenRedis(ctx context.Context, c RedisConfig) (redis.UniversalClient, error) {
	o, err := redisOptions(c.URL.Reveal())
	if err != nil {
		return nil, err
	}
	if c.PoolSize > 0 {
		o.PoolSize = c.PoolSize
	}
	// The per-call bound is the Guard's context deadline; go-redis honours it.
	o.ContextTimeoutEnabled = true
	o.DisableIdentity = true // no CLIENT SETINFO on each connection: one round trip less to connect
	// RESP2: the gateway subscribes on its own connections only (the
	// cache's purges), so RESP3's push notifications would only cost every
	// command a look for pending pushes (a sixth of the client's CPU).
	o.Protocol = 2
	rdb := redis.NewUniversalClient(o)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("stores: redis: %w", err)
	}
	return rdb, nil
}

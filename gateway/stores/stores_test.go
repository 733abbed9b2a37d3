package stores

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/secret"
)

func TestValidate(t *testing.T) {
	shared := func(c *Config) {
		c.Redis.URL = "redis://127.0.0.1:6379/0"
		c.Postgres.URL = "postgres://postgres@127.0.0.1:5432/test"
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" valid; else a part of the error
		mode Mode
	}{
		{"default is embedded", func(*Config) {}, "", Embedded},
		{"both URLs imply shared", shared, "", Shared},
		{"explicit embedded with URLs", func(c *Config) { shared(c); c.Mode = Embedded }, "", Embedded},
		{"one URL alone", func(c *Config) { c.Redis.URL = "redis://127.0.0.1:6379" }, "go together", Embedded},
		{"shared without URLs", func(c *Config) { c.Mode = Shared }, "needs redis.url and postgres.url", Shared},
		{"unknown mode", func(c *Config) { c.Mode = "cluster" }, "want embedded or shared", "cluster"},
		{"no replicas", func(c *Config) { c.Replicas = 0 }, "replicas", Embedded},
		{"bad prefix", func(c *Config) { c.Redis.Prefix = "a b" }, "prefix", Embedded},
		{"bad schema", func(c *Config) { c.Postgres.Schema = "Idgate;drop" }, "schema", Embedded},
		{"no timeout", func(c *Config) { c.Redis.Timeout = 0 }, "timeout", Embedded},
		{"breaker never opens", func(c *Config) { c.Breaker.Failures = 0 }, "breaker", Embedded},
		{"bad redis URL, password not quoted", func(c *Config) {
			shared(c)
			c.Redis.URL = "redis://user:s3cret@127.0.0.1:6379/0?bogus=1"
		}, "stores.redis.url", Shared},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if c.Effective() != tc.mode {
				t.Errorf("mode %q, want %q", c.Effective(), tc.mode)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error quotes the URL's password: %v", err)
			}
		})
	}
}

func TestRedisOptions(t *testing.T) {
	for _, tc := range []struct {
		url     string
		addrs   []string
		master  string
		cluster bool
		db      int
	}{
		{"redis://127.0.0.1:6379/2", []string{"127.0.0.1:6379"}, "", false, 2},
		{"redis://:pw@10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000", []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"}, "", true, 0},
		{"redis://10.0.0.9:26379/0?master_name=mymaster", []string{"10.0.0.9:26379"}, "mymaster", false, 0},
	} {
		o, err := redisOptions(tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if strings.Join(o.Addrs, ",") != strings.Join(tc.addrs, ",") || o.MasterName != tc.master || o.IsClusterMode != tc.cluster || o.DB != tc.db {
			t.Errorf("%s: addrs %v master %q cluster %v db %d", tc.url, o.Addrs, o.MasterName, o.IsClusterMode, o.DB)
		}
	}
	if _, err := redisOptions("http://[::1"); err == nil {
		t.Fatal("a malformed URL parsed")
	}
}

// TestGuard: the breaker opens after the configured failures in a row,
// fails calls at once while open, and closes on the first success after.
func TestGuard(t *testing.T) {
	g := NewGuard("redis", 20*time.Millisecond, BreakerConfig{Failures: 3, OpenFor: 100 * time.Millisecond})
	fail := func(ctx context.Context) error { return errors.New("connection refused") }
	slow := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	ok := func(context.Context) error { return nil }
	ctx := context.Background()

	if err := g.Do(ctx, ok); err != nil || g.State() != Up || g.Err() != nil {
		t.Fatalf("healthy: err %v state %v", err, g.State())
	}
	start := time.Now()
	if err := g.Do(ctx, slow); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow call: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the call's timeout did not bound it: %v", d)
	}
	g.Do(ctx, fail)
	if g.State() != Failing {
		t.Fatalf("after 2 failures: %v", g.State())
	}
	g.Do(ctx, fail)
	if g.State() != Tripped || g.Err() == nil {
		t.Fatalf("after 3 failures: %v", g.State())
	}
	called := false
	if err := g.Do(ctx, func(context.Context) error { called = true; return nil }); !errors.Is(err, ErrOpen) || called {
		t.Fatalf("open breaker: err %v, called %v", err, called)
	}
	time.Sleep(120 * time.Millisecond)
	if err := g.Do(ctx, ok); err != nil || g.State() != Up {
		t.Fatalf("after open_for: err %v state %v", err, g.State())
	}
	if g.Calls() != 5 || g.Errors() != 3 {
		t.Fatalf("calls %d errors %d", g.Calls(), g.Errors())
	}
}

func TestConnectRefusesBadURLs(t *testing.T) {
	c := DefaultConfig()
	c.Postgres.URL = secret.Secret("host=127.0.0.1 port=notaport password=s3cret")
	_, err := OpenPostgres(context.Background(), c.Postgres)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err %v", err)
	}
}

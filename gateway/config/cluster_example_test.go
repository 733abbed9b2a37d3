package config

import (
	"reflect"
	"testing"

	"github.com/idgate/idgate/gateway/stores"
)

// configs/gateway.cluster.yaml is the demo of configs/gateway.yaml moved
// onto the shared stores: apart from `stores` and the replica's own
// store.path it must load to exactly the demo's configuration, so a fleet
// started with it behaves as `make run`'s gateway.
func TestClusterExampleIsTheDemoOnSharedStores(t *testing.T) {
	c, err := load(repoFile(t, "configs/gateway.cluster.yaml"), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Stores
	if s.Effective() != stores.Shared || !c.Stores.IsShared() {
		t.Fatalf("stores.mode = %q (effective %q), want shared", s.Mode, s.Effective())
	}
	if s.Replicas != 2 {
		t.Errorf("stores.replicas = %d, want 2 (make run-cluster's fleet)", s.Replicas)
	}
	if got, want := s.Redis.URL.Reveal(), "redis://127.0.0.1:6379/0"; got != want {
		t.Errorf("stores.redis.url = %q, want %q (the local Redis)", got, want)
	}
	if got, want := s.Postgres.URL.Reveal(), "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"; got != want {
		t.Errorf("stores.postgres.url = %q, want %q (the local PostgreSQL)", got, want)
	}
	if s.Redis.Prefix != "idgate" || s.Postgres.Schema != "idgate" {
		t.Errorf("prefix %q, schema %q, want idgate and idgate", s.Redis.Prefix, s.Postgres.Schema)
	}
	if def := stores.DefaultConfig(); s.Redis.Timeout != def.Redis.Timeout || s.Postgres.Timeout != def.Postgres.Timeout || s.Breaker != def.Breaker {
		t.Errorf("timeouts/breaker spelled out differently from the defaults: %+v", s)
	}
	if c.Store.Path == Default().Store.Path {
		t.Errorf("store.path %q is the embedded demo's: a replica's journal must not be shared with it", c.Store.Path)
	}

	want := Default()
	want.Stores, want.Store.Path = c.Stores, c.Store.Path
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("configs/gateway.cluster.yaml differs from the demo beyond stores and store.path:\n got %+v\nwant %+v", c, want)
	}
}

// The operator's usual way to point a fleet elsewhere: the URL aliases
// win over the file, and each replica's store.path comes from its own
// environment.
func TestClusterExampleTakesStoresFromEnv(t *testing.T) {
	c, err := load(repoFile(t, "configs/gateway.cluster.yaml"), envOf(map[string]string{
		EnvPrefix + "REDIS_URL":       "redis://redis:6379/0",
		EnvPrefix + "POSTGRES_URL":    "postgres://idgate:pw@postgres:5432/idgate?sslmode=disable",
		EnvPrefix + "STORE_PATH":      "/var/lib/idgate/ledger.db",
		EnvPrefix + "STORES_REPLICAS": "3",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Stores.Redis.URL.Reveal() != "redis://redis:6379/0" || c.Stores.Postgres.URL.Reveal() != "postgres://idgate:pw@postgres:5432/idgate?sslmode=disable" {
		t.Errorf("env URLs not applied: %q %q", c.Stores.Redis.URL.Reveal(), c.Stores.Postgres.URL.Reveal())
	}
	if c.Store.Path != "/var/lib/idgate/ledger.db" || c.Stores.Replicas != 3 {
		t.Errorf("store.path %q, replicas %d: env not applied", c.Store.Path, c.Stores.Replicas)
	}
}

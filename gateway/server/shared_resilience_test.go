package server

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/idempotency"
	"github.com/idgate/idgate/gateway/metrics"
	"github.com/idgate/idgate/gateway/pipeline"
	"github.com/idgate/idgate/internal/testkit"
)

// In shared mode the Idempotency-Key records are Redis's (their settling
// loop drained by a closer), and the cache gets its shared level (stopped
// by a closer) when cache.shared is set.
func TestResilienceSharedStores(t *testing.T) {
	sc := testkit.SharedStores(t, "", "")
	sc.Redis.Timeout = 2 * time.Second
	conns := testkit.Conns(t, sc)
	cfg := testConfig(t, "http://127.0.0.1:1", filepath.Join(t.TempDir(), "ledger.db"))
	cfg.Cache.Enabled, cfg.Cache.KeySecret, cfg.Cache.MaxBytes, cfg.Cache.Shared = true, "server-test-cache-secret", 1<<20, true
	s := &Server{cfg: cfg, Metrics: metrics.New()}
	s.shared = conns
	s.pipeline = &pipeline.Pipeline{}
	if err := s.startResilience(); err != nil {
		t.Fatal(err)
	}
	defer s.stopResilience()
	if _, ok := s.res.idem.(*idempotency.Redis); !ok {
		t.Fatalf("idempotency store %T, want *idempotency.Redis", s.res.idem)
	}
	if len(s.closers) != 2 {
		t.Fatalf("%d closers, want the shared cache level's and the idempotency store's", len(s.closers))
	}
	if s.res.cache.Stats().Shared == nil {
		t.Fatal("no shared cache level")
	}
	if err := s.res.cache.PurgeTenant("acme"); err != nil {
		t.Fatal(err)
	}
	r := contracts.CheckRequest{Name: "n", IDCard: "110101191111110010"}
	if l, ok := s.res.cache.Key("acme", "check-2e", &r); !ok {
		t.Fatal("not cacheable")
	} else if _, _, hit := s.res.cache.Get(l); hit {
		t.Fatal("hit")
	}
	if err := s.closeStores(); err != nil {
		t.Fatal(err)
	}
}

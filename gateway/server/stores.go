package server

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/idgate/idgate/gateway/admin"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/keystore"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/ratelimit"
	"github.com/idgate/idgate/gateway/reconcile"
	"github.com/idgate/idgate/gateway/sessions"
	"github.com/idgate/idgate/gateway/stores"
)

// LedgerStore is what the gateway needs of its ledger: the admission
// steps' records, the admin API's and reconciliation's queries, the quota
// rebuild, and the writer's health. ledger.SQLite is the embedded one,
// ledger.Postgres the fleet's.
type LedgerStore interface {
	admission.Ledger
	admin.LedgerReader
	reconcile.Ledger
	BilledOn(ctx context.Context, day string) (ledger.Counts, error)
	Count(ctx context.Context, f ledger.Filter, billedOnly bool) (int64, error)
	Flush() error
	Close() error
	Err() error
	Ping(ctx context.Context) error
	QueueLen() int
	Written() int64
	JournalPending() int64
}

// QuotaStore is the daily quota: admission's steps, the admin API's and
// the metric's reads.
type QuotaStore interface {
	admission.Quota
	admin.QuotaReader
	Tenants(now time.Time) map[string]quota.Usage
}

// limiterStore is the rate limiter and its housekeeping after a reload.
type limiterStore interface {
	admission.RateLimiter
	Prune(keep func(keyID string) bool)
}

// keyStore keeps the key changes made through the admin API.
type keyStore interface {
	Overrides(ctx context.Context) ([]auth.Override, error)
	Put(ctx context.Context, o auth.Override) error
	CanSeal() bool
}

// backends are the stores of the configured mode.
type backends struct {
	limits    limiterStore
	quota     QuotaStore
	rateQuota admission.RateQuota // nil: rate limit and quota are separate calls
	ledger    LedgerStore
	keys      keyStore
	// sessionStore and outbox keep the verification sessions and their
	// webhook deliveries beside the ledger, so a session's billing event
	// commits with its status.
	sessionStore sessions.Store
	outbox       sessions.Outbox
	// shared holds the connections of shared mode (nil: embedded).
	shared *stores.Conns
	// closers run after the ledger closed, last first.
	closers []func() error
}

// openEmbedded opens the one-process stores: in-process rate limits and
// quota counters, and the SQLite file holding the ledger, the keys and the
// sessions.
func (s *Server) openEmbedded() (err error) {
	cfg := s.cfg
	c := quota.NewCounter(s.calendar)
	s.quota, s.limits = c, ratelimit.New()
	if err = ledger.CheckFile(cfg.Store, cfg.Store.Initialize); err != nil {
		return err
	}
	db, err := ledger.OpenDB(cfg.Store.Path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && s.ledger == nil {
			db.Close()
		}
	}()
	sealKey, err := cfg.Auth.Secrets.Key()
	if err != nil {
		return err
	}
	if s.keys, err = keystore.New(db, sealKey); err != nil {
		return err
	}
	if s.ledger, _, err = ledger.Open(db, s.ledgerConfig(), s.log); err != nil {
		return err
	}
	if err = s.embeddedSessions(db); err != nil {
		return err
	}
	// The quota restarts where the ledger says today stands: one source of
	// truth, no second counter file to drift.
	today := s.calendar.Day(time.Now())
	counts, err := s.ledger.BilledOn(context.Background(), today)
	if err != nil {
		return err
	}
	c.Seed(today, counts)
	return nil
}

// embeddedSessions keeps sessions and their outbox in the ledger's file.
func (s *Server) embeddedSessions(db *sql.DB) error {
	if !s.cfg.Sessions.Enabled {
		return nil
	}
	var err error
	if s.sessionStore, err = sessions.NewSQLite(db); err != nil {
		return err
	}
	s.outbox, err = sessions.NewSQLiteOutbox(db)
	return err
}

// ledgerConfig is the store section with the journal's hold: its records
// must outlive any request they cover, the longest a request can take
// upstream, with a margin.
func (s *Server) ledgerConfig() ledger.Config {
	c := s.cfg.Store
	c.InFlight = s.inFlight()
	return c
}

// inFlight bounds how long one request can be under way upstream
// (attempts and the retry deadline included), with a margin: a quota
// lease and a journal record outlive it.
func (s *Server) inFlight() time.Duration {
	return 2*(s.cfg.Retry.Deadline+s.cfg.Upstream.Timeout) + 10*time.Second
}

// openShared connects Redis and PostgreSQL and opens every concern's
// shared implementation on them (shared_*.go).
func (s *Server) openShared() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conns, err := stores.Connect(ctx, s.cfg.Stores)
	if err != nil {
		return err
	}
	s.shared = conns
	s.closers = append(s.closers, conns.Close)
	for _, open := range []func(*stores.Conns) error{
		s.sharedKeys,      // shared_keys.go
		s.sharedLedger,    // shared_ledger.go
		s.sharedSessions,  // shared_sessions.go
		s.sharedAdmission, // shared_admission.go: rate limits and quota
	} {
		if err := open(conns); err != nil {
			return err
		}
	}
	s.registerStoreMetrics()
	return nil
}

// closeStores closes the ledger (storing everything queued), then the
// rest of the stores.
func (s *Server) closeStores() error {
	var errs []error
	if s.ledger != nil {
		errs = append(errs, s.ledger.Close())
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// storesReady adds each shared store's state to /readyz. A store the
// gateway cannot count quota or record billing in makes it unready.
func (s *Server) storesReady(ctx context.Context, checks fiber.Map) bool {
	if s.shared == nil {
		return true
	}
	ready := true
	for _, c := range s.shared.Ready(ctx) {
		if c.Err != nil {
			checks[c.Store], ready = c.Err.Error(), false
		} else {
			checks[c.Store] = "ok"
		}
	}
	return ready
}

// registerStoreMetrics exports each shared store's state: up (it answers)
// and breaker open (its calls fail at once).
func (s *Server) registerStoreMetrics() {
	guards := []*stores.Guard{s.shared.RedisGuard, s.shared.PGGuard}
	for _, m := range []struct {
		name, help string
		state      stores.State
	}{
		{"store_up", "1 while a shared store answers, 0 while its calls fail or its breaker is open.", stores.Up},
		{"store_breaker_open", "1 while a shared store's breaker is open (its calls fail at once).", stores.Tripped},
	} {
		s.Metrics.GaugeVec(m.name, m.help, []string{"store"}, func(emit func(float64, ...string)) {
			for _, g := range guards {
				v := 0.0
				if g.State() == m.state {
					v = 1
				}
				emit(v, g.Name())
			}
		})
	}
}

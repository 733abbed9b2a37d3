package server

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/admin"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/breaker"
	"github.com/idgate/idgate/gateway/cache"
	"github.com/idgate/idgate/gateway/idempotency"
	"github.com/idgate/idgate/gateway/pipeline"
	"github.com/idgate/idgate/gateway/retry"
	"github.com/idgate/idgate/internal/httpurl"
)

// resilience holds the response cache, the circuit breaker and the
// idempotency store: each part nil when off.
type resilience struct {
	cache   *cache.Cache
	breaker *breaker.Breaker
	idem    admission.IdempotencyStore
}

// startResilience builds the forwarder chain
//
//	flight (collapse identical misses) → retry (policy, deadline)
//	  → breaker (per attempt) → upstream client
//
// and hands the pipeline its cache and idempotency store.
func (s *Server) startResilience() error {
	cfg := s.cfg
	var gate retry.Gate
	if cfg.Breaker.Enabled {
		name := "upstream"
		if u, err := httpurl.Parse(cfg.Upstream.URL); err == nil {
			name = u.Host
		}
		b, err := breaker.New(name, cfg.Breaker, s.Metrics.Registry)
		if err != nil {
			return err
		}
		s.res.breaker, gate = b, b
	}
	r, err := retry.New(s.upstream, gate, retry.NewPolicy(cfg.Retry, cfg.Routes), s.Metrics.Registry)
	if err != nil {
		return fmt.Errorf("retry: %w", err)
	}
	var fwd pipeline.Forwarder = r
	if cfg.Cache.Enabled {
		c, err := cache.New(cfg.Cache, cfg.Routes, s.Metrics.Registry)
		if err != nil {
			return err
		}
		s.res.cache = c
		s.pipeline.Cache = c
		fwd = cache.NewFlight(r, c)
		if cfg.Cache.Shared && s.shared != nil {
			// The fleet's second level; its subscription stops (a
			// closer) before the connections close.
			stop, err := c.AttachShared(s.shared, s.Metrics.Registry)
			if err != nil {
				return err
			}
			s.closers = append(s.closers, stop)
		}
	}
	s.pipeline.Forward = fwd
	if cfg.Idempotency.Enabled {
		if s.shared != nil {
			// Records every replica sees; a running one is held for the
			// longest a request can be under way.
			r := idempotency.NewRedis(s.shared, s.inFlight(), cfg.Idempotency.TTL)
			s.res.idem = r
			// Its settling loop drains (bounded) before the connections
			// close.
			s.closers = append(s.closers, func() error { r.Close(); return nil })
		} else {
			m := idempotency.NewMemory(cfg.Idempotency.TTL, cfg.Idempotency.MaxEntries)
			s.res.idem = m
			s.Metrics.Gauge("idempotency_entries", "Idempotency-Key records held.", func() float64 { return float64(m.Len()) })
		}
		s.pipeline.Idempotency = s.res.idem
		s.pipeline.IdempotencyWait = cfg.Retry.Deadline + cfg.Upstream.Timeout
	}
	return nil
}

func (s *Server) stopResilience() {
	if s.res.cache != nil {
		s.res.cache.Close()
	}
}

// breakerReady adds the breaker's state to /readyz; an open breaker makes
// the instance unready (it would answer 503 to everything not cached).
func (s *Server) breakerReady(checks fiber.Map) bool {
	if s.res.breaker == nil {
		return true
	}
	checks["breaker"] = s.res.breaker.State()
	return !s.res.breaker.Open()
}

// registerCacheAdmin mounts the cache's admin routes; the /admin group's
// token check (admin.Register) runs first.
//
//	GET    /admin/cache                   counters
//	DELETE /admin/cache/tenants/{tenant}  purge a tenant (its share group)
//	POST   /admin/cache/purge             {"name","id_card"}: purge a pair everywhere
//
// With the shared level a purge that could not reach the fleet (Redis
// down) is 503: retry it.
func (s *Server) registerCacheAdmin(app *fiber.App) {
	purgeFailed := func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderRetryAfter, "1")
		return admin.WriteError(c, s.pipeline.IDs, fiber.StatusServiceUnavailable, contracts.ErrServiceUnavailable,
			"the purge could not reach every replica (shared store unavailable); retry")
	}
	off := func(c *fiber.Ctx) error {
		return admin.WriteError(c, s.pipeline.IDs, fiber.StatusNotFound, contracts.ErrAPINotImplemented, "the cache is disabled")
	}
	app.Get("/admin/cache", func(c *fiber.Ctx) error {
		if s.res.cache == nil {
			return off(c)
		}
		return c.JSON(s.res.cache.Stats())
	})
	app.Delete("/admin/cache/tenants/:tenant", func(c *fiber.Ctx) error {
		if s.res.cache == nil {
			return off(c)
		}
		t := c.Params("tenant")
		if !auth.ValidID(t) {
			// Not a tenant id: refused, and not written to the log.
			return admin.WriteError(c, s.pipeline.IDs, fiber.StatusBadRequest, contracts.ErrTokenMismatched, "tenant must match "+auth.IDPattern)
		}
		if err := s.res.cache.PurgeTenant(t); err != nil {
			s.log.Warn("cache purge for tenant failed", "tenant", t, "err", err)
			return purgeFailed(c)
		}
		s.log.Info("cache purged for tenant", "tenant", t)
		return c.SendStatus(fiber.StatusNoContent)
	})
	app.Post("/admin/cache/purge", func(c *fiber.Ctx) error {
		if s.res.cache == nil {
			return off(c)
		}
		var in struct {
			Name   string `json:"name"`
			IDCard string `json:"id_card"`
		}
		if err := admin.DecodeJSON(c.Body(), &in); err != nil || in.Name == "" || in.IDCard == "" {
			return admin.WriteError(c, s.pipeline.IDs, fiber.StatusBadRequest, contracts.ErrTokenMismatched, `body must be {"name":…,"id_card":…}`)
		}
		// The pair itself is never logged.
		if err := s.res.cache.PurgeIdentity(in.Name, in.IDCard); err != nil {
			s.log.Warn("cache purge for one identity failed", "err", err)
			return purgeFailed(c)
		}
		s.log.Info("cache purged for one identity")
		return c.SendStatus(fiber.StatusNoContent)
	})
}

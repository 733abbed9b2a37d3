package server

import (
	"context"

	"golang.org/x/sync/singleflight"

	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/ratelimit"
	"github.com/idgate/idgate/gateway/stores"
)

// sharedAdmission keeps the rate limits and the daily quotas in Redis, so
// the fleet admits as one gateway: one bucket per key (GCRA), one count
// per key and tenant per day, the token and the unit taken in one call.
func (s *Server) sharedAdmission(c *stores.Conns) error {
	limits := ratelimit.NewRedis(c, s.tenantOfKey)
	q := quota.NewRedis(c, quota.RedisOptions{
		Calendar: s.calendar,
		Hold:     s.inFlight(),
		Seed:     s.quotaSeed(),
		Limiter:  limits,
		Tenants:  s.tenantIDs,
		TenantOf: s.tenantOfKey,
	})
	s.limits, s.quota, s.rateQuota = limits, q, q
	s.closers = append(s.closers, func() error { q.Close(); return nil })
	s.Metrics.Counter("ratelimit_fallback_total",
		"Rate-limit decisions taken by this replica's local bucket (rate/N) because Redis did not answer.",
		func() float64 { return float64(limits.Fallbacks()) })
	return nil
}

// tenantOfKey names a key's tenant in the directory in force ("" when the
// key is unknown, or before the directory is loaded).
func (s *Server) tenantOfKey(keyID string) string {
	if s.dir == nil {
		return ""
	}
	if k, ok := s.dir.Current().Key(keyID); ok && k.Tenant != nil {
		return k.Tenant.ID
	}
	return ""
}

// tenantIDs lists the tenants of the directory in force.
func (s *Server) tenantIDs() []string {
	if s.dir == nil {
		return nil
	}
	ts := s.dir.Current().Tenants()
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids
}

// quotaSeed reads where a tenant's day stands from PostgreSQL: the
// ledger's entries of the day that used a unit (billed, cached_quota,
// unknown) and the tenant's open sessions reserved that day (each holds a
// unit until its outcome is known; a session settled later cannot add it
// again: its rebuilt ticket carries no epoch). The quota store bounds
// these reads under the PostgreSQL guard. Tenants seeding the same day at once share one
// ledger query.
func (s *Server) quotaSeed() quota.SeedFunc {
	var days singleflight.Group
	return func(ctx context.Context, tenant, day string) (int64, map[string]int64, error) {
		v, err, _ := days.Do(day, func() (any, error) { return s.ledger.BilledOn(ctx, day) })
		if err != nil {
			return 0, nil, err
		}
		keys := map[string]int64{}
		var total int64
		for k, n := range v.(ledger.Counts)[tenant] {
			keys[k] += n
			total += n
		}
		if s.sessionStore != nil {
			open, err := s.sessionStore.OpenOn(ctx, tenant, day)
			if err != nil {
				return 0, nil, err
			}
			for k, n := range open {
				keys[k] += n
				total += n
			}
		}
		return total, keys, nil
	}
}

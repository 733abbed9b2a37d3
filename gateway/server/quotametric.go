package server

import (
	"time"
)

// registerQuotaMetric exports each tenant's share of its daily quota taken
// today (in the configured zone): billed answers plus reservations in
// flight, over the quota, the same count admission refuses at. It is read
// from the quota store at scrape time, so requests pay nothing for it.
// Labels are the tenant ids of the configuration in force (reloads
// included); tenants without a quota export nothing.
func (s *Server) registerQuotaMetric() {
	s.Metrics.GaugeVec("quota_used_ratio",
		"Share of the tenant's daily quota used today, billed plus in flight (1 = exhausted); tenants without a quota are absent.",
		[]string{"tenant"}, func(emit func(float64, ...string)) {
			usage := s.quota.Tenants(time.Now())
			for _, t := range s.dir.Current().Tenants() {
				if t.DailyQuota <= 0 {
					continue
				}
				u := usage[t.ID]
				emit(float64(u.Used+u.Reserved)/float64(t.DailyQuota), t.ID)
			}
		})
}

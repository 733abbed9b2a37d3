package auth

import (
	"math"
	"strings"
	"testing"
)

// TestLimitBounds: a tenant's or a key's rate, burst and daily quota are
// refused outside [0, max] (NaN and infinities included), in the
// configuration as in the admin API, which share CheckLimits.
func TestLimitBounds(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rate       float64
		burst      int
		dailyQuota int64
		err        string // "" accepted
	}{
		{"zeros", 0, 0, 0, ""},
		{"at the maxima", MaxRate, MaxBurst, MaxDailyQuota, ""},
		{"fractional rate", 0.5, 1, 1, ""},
		{"negative rate", -1, 1, 1, "rate must be"},
		{"rate over the maximum", MaxRate * 1.000001, 1, 1, "rate must be"},
		{"NaN rate", math.NaN(), 1, 1, "rate must be"},
		{"infinite rate", math.Inf(1), 1, 1, "rate must be"},
		{"negative burst", 1, -1, 1, "burst must be"},
		{"burst over the maximum", 1, MaxBurst + 1, 1, "burst must be"},
		{"negative quota", 1, 1, -1, "daily_quota must be"},
		{"quota over the maximum", 1, 1, MaxDailyQuota + 1, "daily_quota must be"},
		{"largest quota", 1, 1, math.MaxInt64, "daily_quota must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckLimits(tc.rate, tc.burst, tc.dailyQuota)
			if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("CheckLimits = %v, want %q", err, tc.err)
			}
			// The same limits on a tenant and on a key in the configuration.
			tenant := Config{Tenants: []TenantConfig{{ID: "t", Rate: tc.rate, Burst: tc.burst, DailyQuota: tc.dailyQuota,
				Keys: []KeyConfig{{ID: "k", Key: "key", Rate: 1, Burst: 1}}}}}
			key := Config{Tenants: []TenantConfig{{ID: "t", Rate: 1, Burst: 1,
				Keys: []KeyConfig{{ID: "k", Key: "key", Rate: tc.rate, Burst: tc.burst, DailyQuota: tc.dailyQuota}}}}}
			for _, c := range []Config{tenant, key} {
				err := c.Validate()
				if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
					t.Fatalf("Validate = %v, want %q", err, tc.err)
				}
			}
		})
	}
}

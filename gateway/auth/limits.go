package auth

import "fmt"

// Upper bounds of a key's or a tenant's limits, in the configuration and in
// the admin API alike. Each is far above what one gateway serves (a core
// answers tens of thousands of requests a second) and far below where the
// token bucket's and the quota counters' arithmetic loses precision or
// overflows, so a typo of a few zeros is refused instead of turning a limit
// off in effect.
const (
	// MaxRate is the largest rate, in requests per second.
	MaxRate = 1e6
	// MaxBurst is the largest token-bucket burst.
	MaxBurst = 10_000_000
	// MaxDailyQuota is the largest daily quota, in billed answers (0 is
	// unlimited).
	MaxDailyQuota = 1_000_000_000_000
)

// CheckLimits reports the first limit outside its range: rate a number in
// [0, MaxRate] (NaN and infinities refused), burst in [0, MaxBurst],
// dailyQuota in [0, MaxDailyQuota]. Zero means inherited or unlimited, as
// the field says.
func CheckLimits(rate float64, burst int, dailyQuota int64) error {
	switch {
	case !(rate >= 0 && rate <= MaxRate): // NaN fails every comparison
		return fmt.Errorf("rate must be a number from 0 to %.0f requests per second", float64(MaxRate))
	case burst < 0 || burst > MaxBurst:
		return fmt.Errorf("burst must be from 0 to %d", MaxBurst)
	case dailyQuota < 0 || dailyQuota > MaxDailyQuota:
		return fmt.Errorf("daily_quota must be from 0 to %d (0: unlimited)", int64(MaxDailyQuota))
	}
	return nil
}

package quota

import (
	"fmt"
	"time"
	// The quota day needs Asia/Shanghai even on hosts without tzdata.
	_ "time/tzdata"
)

// Config is where the calendar day of the daily quotas starts
// (`timezone:` at the top of the configuration).
type Config struct {
	// Timezone is an IANA zone name; midnight there resets the quotas.
	Timezone string `yaml:"timezone"`
}

// DefaultConfig: the authority's day, Asia/Shanghai.
func DefaultConfig() Config { return Config{Timezone: "Asia/Shanghai"} }

// Validate checks that the zone exists.
func (c Config) Validate() error {
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		return fmt.Errorf("timezone %q: %v", c.Timezone, err)
	}
	return nil
}

// Location is the configured zone (validated at load; UTC if it is not).
func (c Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

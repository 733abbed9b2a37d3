package idempotency

import (
	"strings"
	"testing"
)

func TestConfigValidation(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.MaxEntries = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "max_entries") {
		t.Fatalf("error %v, want one mentioning max_entries", err)
	}
	c.Enabled = false
	if err := c.Validate(); err != nil {
		t.Fatalf("a disabled store checks nothing: %v", err)
	}
}

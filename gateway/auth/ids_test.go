package auth

import (
	"strings"
	"testing"
)

// TestTenantIDs: a tenant id in the configuration matches IDPattern, the
// pattern the admin API checks tenant parameters and new key ids against.
func TestTenantIDs(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"demo", true},
		{"acme-prod_2.eu", true},
		{"A", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"-acme", false},
		{".acme", false},
		{"acme corp", false},
		{"acme/x", false},
		{"acme\n", false},
		{"张三", false},
		{"acme%20", false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			if got := ValidID(tc.id); got != tc.ok {
				t.Fatalf("ValidID(%q) = %v", tc.id, got)
			}
			c := Config{Tenants: []TenantConfig{{ID: tc.id, Rate: 1, Burst: 1, Keys: []KeyConfig{{ID: "k", Key: "key"}}}}}
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate with tenant %q: %v", tc.id, err)
			}
		})
	}
}

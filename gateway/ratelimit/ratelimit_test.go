package ratelimit

import (
	"testing"
	"time"
)

func TestAllowAndHeaders(t *testing.T) {
	l := New()
	now := time.Unix(1000, 0)
	cases := []struct {
		at                     time.Duration
		rate                   float64
		burst                  int
		allowed                bool
		remaining              int
		reset, retryAfterAtLst time.Duration
	}{
		{0, 2, 2, true, 1, 500 * time.Millisecond, 0},
		{0, 2, 2, true, 0, time.Second, 0},
		{0, 2, 2, false, 0, time.Second, 500 * time.Millisecond},
		{500 * time.Millisecond, 2, 2, true, 0, time.Second, 0},
		// Reload: the same key gets a bigger bucket and keeps its tokens.
		{500 * time.Millisecond, 2, 5, false, 0, 2500 * time.Millisecond, 500 * time.Millisecond},
		{2 * time.Second, 2, 5, true, 2, 1500 * time.Millisecond, 0},
	}
	for i, tc := range cases {
		d := l.Allow("k", tc.rate, tc.burst, now.Add(tc.at))
		if d.Allowed != tc.allowed || d.Remaining != tc.remaining || d.Limit != tc.burst {
			t.Fatalf("step %d: %+v", i, d)
		}
		if (d.Reset - tc.reset).Abs() > time.Millisecond {
			t.Fatalf("step %d: reset %v, want %v", i, d.Reset, tc.reset)
		}
		if !tc.allowed && d.RetryAfter < tc.retryAfterAtLst-time.Millisecond {
			t.Fatalf("step %d: retry after %v", i, d.RetryAfter)
		}
	}
	// Another key has its own bucket.
	if d := l.Allow("other", 2, 2, now); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("other key: %+v", d)
	}
	l.Prune(func(id string) bool { return id == "other" })
	if d := l.Allow("k", 2, 2, now.Add(2*time.Second)); d.Remaining != 1 {
		t.Fatalf("pruned key should start with a full bucket: %+v", d)
	}
}

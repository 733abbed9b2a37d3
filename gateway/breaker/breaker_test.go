package breaker

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idgate/idgate/gateway/config"
)

func TestOpensHalfOpensCloses(t *testing.T) {
	b, err := New("sim", config.Breaker{Enabled: true, FailureRatio: 0.5, MinRequests: 4, Window: config.Duration(time.Minute),
		OpenFor: config.Duration(50 * time.Millisecond), HalfOpenProbes: 2}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	call := func(o Outcome) error {
		done, err := b.Allow()
		if err != nil {
			return err
		}
		done(o)
		return nil
	}
	// Below min_requests nothing trips; 429s (neutral) never count.
	for _, o := range []Outcome{Failure, Neutral, Neutral, Failure, Success} {
		if err := call(o); err != nil {
			t.Fatal(err)
		}
	}
	if b.State() != "closed" {
		t.Fatalf("state %s after 2 failures of 3 counted... want closed until ratio reached at min", b.State())
	}
	_ = call(Failure) // 3 failures of 4 counted: open
	if b.State() != "open" || !b.Open() {
		t.Fatalf("state %s, want open", b.State())
	}
	if err := call(Success); !errors.Is(err, ErrOpen) {
		t.Fatalf("open breaker allowed a call: %v", err)
	}
	time.Sleep(60 * time.Millisecond)
	if b.State() != "half-open" {
		t.Fatalf("state %s, want half-open", b.State())
	}
	// A failed probe re-opens.
	_ = call(Failure)
	if b.State() != "open" {
		t.Fatalf("state %s after failed probe, want open", b.State())
	}
	time.Sleep(60 * time.Millisecond)
	for range 2 {
		if err := call(Success); err != nil {
			t.Fatal(err)
		}
	}
	if b.State() != "closed" {
		t.Fatalf("state %s after good probes, want closed", b.State())
	}
}

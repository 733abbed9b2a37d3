package stores

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// ErrOpen is a call refused at once because the store's breaker is open.
var ErrOpen = errors.New("breaker open")

// Guard bounds every call to one store: a timeout per call, and a breaker
// that, after Failures consecutive failures, fails calls at once for
// OpenFor, then lets them through again (the first failure re-opens it).
// It also keeps the store's state for /readyz and the metrics. Safe for
// concurrent use; the path of a healthy store is two atomic loads.
type Guard struct {
	name     string
	timeout  time.Duration
	failures int32
	openFor  time.Duration

	fails     atomic.Int32
	openUntil atomic.Int64 // unix nanoseconds; 0: closed
	lastErr   atomic.Pointer[error]
	calls     atomic.Int64
	errors    atomic.Int64
}

// NewGuard guards the store called name (redis, postgres).
func NewGuard(name string, timeout time.Duration, b BreakerConfig) *Guard {
	return &Guard{name: name, timeout: timeout, failures: int32(max(b.Failures, 1)), openFor: b.OpenFor}
}

// Name is the store's name.
func (g *Guard) Name() string { return g.name }

// Timeout is the bound of one call.
func (g *Guard) Timeout() time.Duration { return g.timeout }

// Do runs fn with the call's deadline, unless the breaker is open. fn
// returns nil for any answer the store gave (a missing key is an answer);
// an error counts as the store failing.
func (g *Guard) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := g.Allow(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	err := fn(ctx)
	cancel()
	g.Observe(err)
	if err != nil {
		return fmt.Errorf("%s: %w", g.name, err)
	}
	return nil
}

// Allow says whether a call may be made now (ErrOpen while the breaker is
// open); a caller that makes it reports the outcome to Observe.
func (g *Guard) Allow() error {
	if until := g.openUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		return fmt.Errorf("%s: %w", g.name, ErrOpen)
	}
	return nil
}

// Observe counts a call's outcome.
func (g *Guard) Observe(err error) {
	g.calls.Add(1)
	if err == nil {
		if g.fails.Load() != 0 {
			g.fails.Store(0)
		}
		if g.openUntil.Load() != 0 {
			g.openUntil.Store(0)
		}
		return
	}
	g.errors.Add(1)
	g.lastErr.Store(&err)
	if g.fails.Add(1) >= g.failures {
		g.openUntil.Store(time.Now().Add(g.openFor).UnixNano())
	}
}

// State is a store's health as the last calls saw it.
type State int

const (
	// Up: the last call succeeded.
	Up State = iota
	// Failing: recent calls failed, fewer than the breaker's threshold.
	Failing
	// Tripped: the breaker is open; calls fail at once.
	Tripped
)

func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Failing:
		return "failing"
	default:
		return "open"
	}
}

// State is the store's health now.
func (g *Guard) State() State {
	if until := g.openUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		return Tripped
	}
	if g.fails.Load() > 0 {
		return Failing
	}
	return Up
}

// Err is the last failure while the store is not Up (nil when Up).
func (g *Guard) Err() error {
	if g.State() == Up {
		return nil
	}
	if p := g.lastErr.Load(); p != nil {
		return fmt.Errorf("%s: %w", g.name, *p)
	}
	return fmt.Errorf("%s: unavailable", g.name)
}

// Calls and Errors count calls and failed calls since start (metrics).
func (g *Guard) Calls() int64  { return g.calls.Load() }
func (g *Guard) Errors() int64 { return g.errors.Load() }

package breaker

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func testConfig() Config {
	return Config{Enabled: true, FailureRatio: 0.5, MinRequests: 4, Window: time.Minute,
		OpenFor: 30 * time.Second, HalfOpenProbes: 2}
}

// newAt builds a breaker whose clock is *clock.
func newAt(t *testing.T, clock *time.Time, reg prometheus.Registerer) *Breaker {
	t.Helper()
	b, err := New("sim", testConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	b.now = func() time.Time { return *clock }
	b.mu.Lock()
	b.newGeneration(*clock) // the window starts on the test's clock
	b.mu.Unlock()
	return b
}

// step is one call, or with wait the clock moving on, and what the
// breaker must say after it.
type step struct {
	wait    time.Duration
	outcome Outcome
	refused bool   // Allow must refuse
	state   string // state after the step ("" : not checked)
}

func TestStateMachine(t *testing.T) {
	F, S, N := Failure, Success, Neutral
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"below min_requests nothing trips", []step{{outcome: F}, {outcome: F}, {outcome: F, state: "closed"}}},
		{"neutral calls never count", []step{{outcome: F}, {outcome: N}, {outcome: N}, {outcome: F}, {outcome: N}, {outcome: S, state: "closed"}, {outcome: F, state: "open"}}},
		{"ratio below the threshold stays closed", []step{{outcome: S}, {outcome: S}, {outcome: S}, {outcome: F}, {outcome: S}, {outcome: F, state: "closed"}}},
		{"trips at the ratio", []step{{outcome: S}, {outcome: F}, {outcome: S}, {outcome: F, state: "open"}, {refused: true, state: "open"}}},
		{"a new window forgets", []step{{outcome: F}, {outcome: F}, {outcome: F}, {wait: 61 * time.Second}, {outcome: F, state: "closed"}}},
		{"open until open_for, then half-open", []step{{outcome: F}, {outcome: F}, {outcome: F}, {outcome: F, state: "open"},
			{wait: 29 * time.Second}, {refused: true, state: "open"}, {wait: 2 * time.Second, state: "half-open"}}},
		{"a failed probe re-opens", []step{{outcome: F}, {outcome: F}, {outcome: F}, {outcome: F},
			{wait: 31 * time.Second}, {outcome: S, state: "half-open"}, {outcome: F, state: "open"}, {refused: true}}},
		{"all probes succeed: closed", []step{{outcome: F}, {outcome: F}, {outcome: F}, {outcome: F},
			{wait: 31 * time.Second}, {outcome: S, state: "half-open"}, {outcome: S, state: "closed"}, {outcome: F, state: "closed"}}},
		{"a neutral probe frees its slot", []step{{outcome: F}, {outcome: F}, {outcome: F}, {outcome: F},
			{wait: 31 * time.Second}, {outcome: N, state: "half-open"}, {outcome: S, state: "half-open"}, {outcome: S, state: "closed"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := t0
			b := newAt(t, &clock, nil)
			for i, s := range tc.steps {
				if s.wait > 0 { // only the clock moves
					clock = clock.Add(s.wait)
				} else {
					gen, err := b.Allow(clock)
					if s.refused != errors.Is(err, ErrOpen) {
						t.Fatalf("step %d: Allow err %v, want refused=%v", i, err, s.refused)
					}
					if err == nil {
						b.Done(gen, s.outcome)
					}
				}
				if s.state != "" {
					if got := b.current(clock).String(); got != s.state {
						t.Fatalf("step %d: state %s, want %s", i, got, s.state)
					}
				}
			}
		})
	}
}

// Half-open admits half_open_probes calls at once, no more, until one
// reports.
func TestHalfOpenProbeSlots(t *testing.T) {
	clock := t0
	b := newAt(t, &clock, nil)
	for range 4 {
		gen, _ := b.Allow(clock)
		b.Done(gen, Failure)
	}
	clock = clock.Add(31 * time.Second)
	g1, err1 := b.Allow(clock)
	_, err2 := b.Allow(clock)
	if err1 != nil || err2 != nil {
		t.Fatalf("probes refused: %v %v", err1, err2)
	}
	if _, err := b.Allow(clock); !errors.Is(err, ErrOpen) {
		t.Fatalf("third concurrent probe admitted: %v", err)
	}
	b.Done(g1, Neutral)
	if _, err := b.Allow(clock); err != nil {
		t.Fatalf("slot of a neutral probe not freed: %v", err)
	}
}

// An outcome reported after the state changed belongs to a generation
// that is gone: it must not count in the new one.
func TestStaleOutcomeDropped(t *testing.T) {
	clock := t0
	b := newAt(t, &clock, nil)
	slow, _ := b.Allow(clock) // admitted while closed, answers late
	for range 4 {
		gen, _ := b.Allow(clock)
		b.Done(gen, Failure)
	}
	clock = clock.Add(31 * time.Second)
	probe, _ := b.Allow(clock)
	b.Done(slow, Failure) // from the closed generation: ignored
	if got := b.current(clock).String(); got != "half-open" {
		t.Fatalf("a stale failure moved the breaker to %s", got)
	}
	b.Done(probe, Success)
	gen, _ := b.Allow(clock)
	b.Done(gen, Success)
	if got := b.current(clock).String(); got != "closed" {
		t.Fatalf("state %s after two good probes", got)
	}
}

func TestTransitionsCounted(t *testing.T) {
	clock := t0
	reg := prometheus.NewRegistry()
	b := newAt(t, &clock, reg)
	for range 4 {
		gen, _ := b.Allow(clock)
		b.Done(gen, Failure)
	}
	clock = clock.Add(31 * time.Second)
	for range 2 {
		gen, _ := b.Allow(clock)
		b.Done(gen, Success)
	}
	want := map[string]float64{"open": 1, "half-open": 1, "closed": 1}
	for to, n := range want {
		var m dto.Metric
		if err := b.transitioned[stateIndex(to)].Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != n {
			t.Errorf("transitions to %s: %v, want %v", to, got, n)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var gauge float64 = -1
	for _, mf := range mfs {
		if mf.GetName() == "idgate_gateway_breaker_state" {
			gauge = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if gauge != 0 {
		t.Fatalf("state gauge %v, want 0 (closed)", gauge)
	}
}

func stateIndex(name string) state {
	for s, n := range stateNames {
		if n == name {
			return state(s)
		}
	}
	panic(name)
}

// With the real clock: the breaker opens, and probes after open_for.
func TestRealClock(t *testing.T) {
	c := testConfig()
	c.OpenFor = 20 * time.Millisecond
	b, err := New("sim", c, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		gen, _ := b.Allow(time.Now())
		b.Done(gen, Failure)
	}
	if !b.Open() || b.State() != "open" {
		t.Fatalf("state %s, want open", b.State())
	}
	time.Sleep(30 * time.Millisecond)
	if b.State() != "half-open" {
		t.Fatalf("state %s, want half-open", b.State())
	}
}

// Many goroutines at once (run with -race): no call is lost from the
// counts, and a failing upstream opens the breaker.
func TestConcurrent(t *testing.T) {
	b, err := New("sim", Config{Enabled: true, FailureRatio: 0.9, MinRequests: 1000,
		Window: time.Hour, OpenFor: time.Hour, HalfOpenProbes: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if gen, err := b.Allow(time.Now()); err == nil {
					b.Done(gen, Failure)
				}
			}
		})
	}
	wg.Wait()
	if !b.Open() {
		t.Fatalf("1600 failures did not open the breaker: %s", b.State())
	}
}

// The hot path allocates nothing.
func TestAllowDoneAllocatesNothing(t *testing.T) {
	b, err := New("sim", testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if n := testing.AllocsPerRun(1000, func() {
		gen, _ := b.Allow(now)
		b.Done(gen, Success)
	}); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}

func BenchmarkAllowDone(b *testing.B) {
	br, err := New("sim", testConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		gen, _ := br.Allow(now)
		br.Done(gen, Success)
	}
}

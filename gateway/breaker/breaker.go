// Package breaker is the circuit breaker in front of one upstream.
//
// The breaker opens when, within the window, at least min_requests calls
// were made and the share of failures reached failure_ratio. While open,
// Allow refuses at once (the gateway answers 503 service_unavailable, not
// billed). After open_for it lets half_open_probes calls through; if all
// succeed it closes, one failure opens it again.
//
// It is sony/gobreaker's state machine (generations, a fixed window in the
// closed state, half-open probing), written out because every request
// passes it: gobreaker reads the clock twice a call and allocates a closure
// a call. Here the caller passes the time it already read, and a call is a
// generation number, not a closure, so admitting and reporting a call
// allocates nothing.
package breaker

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrOpen is what a refused call gets.
var ErrOpen = errors.New("breaker: circuit open")

// Outcome of one upstream call, as the breaker counts it.
type Outcome int

const (
	// Success: a usable answer (any billed or definitive result, 4xx).
	Success Outcome = iota
	// Failure: no answer, a 5xx, or a transient result (-4, -6).
	Failure
	// Neutral: says nothing about health (429: the upstream throttles us).
	Neutral
)

type state int

const (
	closed state = iota
	halfOpen
	open
)

var stateNames = [...]string{closed: "closed", halfOpen: "half-open", open: "open"}

func (s state) String() string { return stateNames[s] }

// Breaker guards one upstream. Its methods are safe for concurrent use.
type Breaker struct {
	ratio        float64
	minRequests  uint32
	window       time.Duration
	openFor      time.Duration
	probes       uint32
	transitioned [len(stateNames)]prometheus.Counter
	now          func() time.Time // for the rare transitions Done makes

	mu    sync.Mutex
	state state
	// gen numbers the current state's counting period: an outcome counts
	// only in the generation its call was admitted in.
	gen uint64
	// expiry: closed, the end of the counting window; open, when probing
	// starts; half-open, unused.
	expiry time.Time
	// requests admitted, and of them neutral (excluded), failed, and
	// succeeded in a row, in this generation.
	requests, neutral, failures, successRun uint32
}

// New builds a breaker named for its upstream and registers its state and
// transitions on reg (nil: not registered).
func New(name string, c Config, reg prometheus.Registerer) (*Breaker, error) {
	transitions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "idgate", Subsystem: "gateway_breaker", Name: "transitions_total",
		Help: "Circuit breaker state changes by upstream and new state.",
	}, []string{"upstream", "to"})
	b := &Breaker{
		ratio: c.FailureRatio, minRequests: c.MinRequests, window: c.Window, openFor: c.OpenFor,
		probes: max(c.HalfOpenProbes, 1), now: time.Now,
	}
	for s, n := range stateNames {
		b.transitioned[s] = transitions.WithLabelValues(name, n)
	}
	b.newGeneration(time.Now())
	if reg != nil {
		st := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "idgate", Subsystem: "gateway_breaker", Name: "state",
			Help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.", ConstLabels: prometheus.Labels{"upstream": name},
		}, func() float64 { return float64(b.current(time.Now())) })
		for _, col := range []prometheus.Collector{transitions, st} {
			if err := reg.Register(col); err != nil {
				return nil, fmt.Errorf("breaker: metrics: %w", err)
			}
		}
	}
	return b, nil
}

// Allow asks to make one call at now (the caller's clock reading). The
// call's outcome must be reported with Done(gen, outcome). A refusal is
// ErrOpen (open, or half-open with every probe slot taken).
func (b *Breaker) Allow(now time.Time) (gen uint64, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.advance(now) {
	case open:
		return 0, ErrOpen
	case halfOpen:
		if b.requests-b.neutral >= b.probes {
			return 0, ErrOpen
		}
	}
	b.requests++
	return b.gen, nil
}

// Done reports the outcome of a call Allow admitted in generation gen. An
// outcome from an earlier generation (the state changed meanwhile) says
// nothing about the current one and is dropped.
func (b *Breaker) Done(gen uint64, o Outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen != b.gen {
		return
	}
	switch o {
	case Neutral:
		b.neutral++
	case Success:
		b.successRun++
		if b.state == halfOpen && b.successRun >= b.probes {
			b.set(closed, b.now())
		}
	case Failure:
		b.failures++
		b.successRun = 0
		switch b.state {
		case closed:
			counted := b.requests - min(b.neutral, b.requests)
			if counted >= b.minRequests && float64(b.failures)/float64(counted) >= b.ratio {
				b.set(open, b.now())
			}
		case halfOpen:
			b.set(open, b.now())
		}
	}
}

// State is "closed", "half-open" or "open".
func (b *Breaker) State() string { return b.current(time.Now()).String() }

// Open reports whether calls are being refused.
func (b *Breaker) Open() bool { return b.current(time.Now()) == open }

func (b *Breaker) current(now time.Time) state {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.advance(now)
}

// advance applies what time alone changes: a closed window ends (its
// counts start afresh), an open period ends (probing starts). b.mu held.
func (b *Breaker) advance(now time.Time) state {
	switch b.state {
	case closed:
		if b.expiry.Before(now) {
			b.newGeneration(now)
		}
	case open:
		if b.expiry.Before(now) {
			b.set(halfOpen, now)
		}
	}
	return b.state
}

// set moves to s, starting a new generation. b.mu held.
func (b *Breaker) set(s state, now time.Time) {
	if b.state == s {
		return
	}
	b.state = s
	b.newGeneration(now)
	b.transitioned[s].Inc()
}

func (b *Breaker) newGeneration(now time.Time) {
	b.gen++
	b.requests, b.neutral, b.failures, b.successRun = 0, 0, 0, 0
	switch b.state {
	case closed:
		b.expiry = now.Add(b.window)
	case open:
		b.expiry = now.Add(b.openFor)
	default:
		b.expiry = time.Time{}
	}
}

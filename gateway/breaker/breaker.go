// Package breaker is the circuit breaker in front of one upstream. It is
// sony/gobreaker (v2): a small, widely used state machine with a rolling
// failure window and half-open probing; writing our own would re-derive
// the same generation bookkeeping and its races.
//
// The breaker opens when, within the window, at least min_requests calls
// were made and the share of failures reached failure_ratio. While open,
// Allow refuses at once (the gateway answers 503 service_unavailable, not
// billed). After open_for it lets half_open_probes calls through; if all
// succeed it closes, one failure opens it again.
package breaker

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/idgate/idgate/gateway/config"
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

var (
	errFailure = errors.New("failure")
	errNeutral = errors.New("neutral")
)

// Breaker guards one upstream.
type Breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// New builds a breaker named for its upstream and registers its state and
// transitions on reg.
func New(name string, c config.Breaker, reg prometheus.Registerer) (*Breaker, error) {
	transitions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "idgate", Subsystem: "gateway_breaker", Name: "transitions_total",
		Help: "Circuit breaker state changes by upstream and new state.",
	}, []string{"upstream", "to"})
	b := &Breaker{}
	ratio, minReq := c.FailureRatio, c.MinRequests
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: c.HalfOpenProbes,
		Interval:    c.Window.D(),
		Timeout:     c.OpenFor.D(),
		ReadyToTrip: func(n gobreaker.Counts) bool {
			// Neutral (excluded) calls count in Requests but say nothing.
			counted := n.Requests - min(n.TotalExclusions, n.Requests)
			return counted >= minReq && float64(n.TotalFailures)/float64(counted) >= ratio
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errNeutral) },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			transitions.WithLabelValues(name, to.String()).Inc()
		},
	})
	if reg != nil {
		state := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "idgate", Subsystem: "gateway_breaker", Name: "state",
			Help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.", ConstLabels: prometheus.Labels{"upstream": name},
		}, func() float64 { return float64(b.cb.State()) })
		for _, col := range []prometheus.Collector{transitions, state} {
			if err := reg.Register(col); err != nil {
				return nil, fmt.Errorf("breaker: metrics: %w", err)
			}
		}
	}
	return b, nil
}

// Allow asks to make one call. done must be called with its outcome.
// A refusal is ErrOpen (open, or half-open with every probe slot taken).
func (b *Breaker) Allow() (done func(Outcome), err error) {
	d, err := b.cb.Allow()
	if err != nil {
		return nil, ErrOpen
	}
	return func(o Outcome) {
		switch o {
		case Success:
			d(nil)
		case Failure:
			d(errFailure)
		default:
			d(errNeutral)
		}
	}, nil
}

// State is "closed", "half-open" or "open".
func (b *Breaker) State() string { return b.cb.State().String() }

// Open reports whether calls are being refused.
func (b *Breaker) Open() bool { return b.cb.State() == gobreaker.StateOpen }

package session

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idgate/idgate/contracts"
)

// metrics are resolved per label value once, so a transition increments a
// counter it already holds.
type metrics struct {
	transitions map[contracts.SessionState]prometheus.Counter
	deliveries  map[string]prometheus.Counter
}

// Instrument registers the service's metrics with reg (the server's own
// registry: one per instance, so tests can run several). Without it the
// service counts nothing.
func (s *Service) Instrument(reg prometheus.Registerer) error {
	tr := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idgate_simulator_session_transitions_total",
		Help: "Verification-session state changes, by the state entered.",
	}, []string{"state"})
	dl := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idgate_simulator_session_webhook_attempts_total",
		Help: "Webhook delivery attempts, by outcome (delivered, retrying, gave_up, dropped).",
	}, []string{"outcome"})
	stored := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "idgate_simulator_sessions",
		Help: "Verification sessions held (live, finished or expired, until swept).",
	}, func() float64 { return float64(s.Len()) })
	for _, c := range []prometheus.Collector{tr, dl, stored} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("session: register metrics: %w", err)
		}
	}
	m := &metrics{transitions: map[contracts.SessionState]prometheus.Counter{}, deliveries: map[string]prometheus.Counter{}}
	for _, st := range contracts.SessionStates {
		m.transitions[st] = tr.WithLabelValues(string(st))
	}
	for _, o := range []string{OutcomeDelivered, OutcomeRetrying, OutcomeGaveUp, OutcomeDropped} {
		m.deliveries[o] = dl.WithLabelValues(o)
	}
	s.metrics.Store(m)
	count := func(outcome string) {
		if c := m.deliveries[outcome]; c != nil {
			c.Inc()
		}
	}
	s.hooks.onAttempt.Store(&count)
	return nil
}

func (s *Service) countTransition(st contracts.SessionState) {
	if m := s.metrics.Load(); m != nil {
		if c := m.transitions[st]; c != nil {
			c.Inc()
		}
	}
}

// Package metrics exposes the gateway's Prometheus metrics from a registry
// per server instance. Labels are bounded: route names and tenant ids come
// from config, classes from a fixed list; nothing personal is ever a label.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is one gateway's metric set.
type Metrics struct {
	Registry *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	upstream *prometheus.HistogramVec
	reloads  *prometheus.CounterVec

	mu       sync.RWMutex
	children map[childKey]child
	upChild  map[string]prometheus.Observer
}

type childKey struct{ route, class, tenant string }

type child struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New registers the gateway's metrics, plus Go and process collectors, on a
// fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "idgate", Subsystem: "gateway", Name: "requests_total",
			Help: "Requests by route, billing class and tenant.",
		}, []string{"route", "class", "tenant"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "idgate", Subsystem: "gateway", Name: "request_duration_seconds",
			Help: "Time from request to response inside the gateway, by route, class and tenant.", Buckets: latencyBuckets,
		}, []string{"route", "class", "tenant"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "idgate", Subsystem: "gateway", Name: "upstream_duration_seconds",
			Help: "Upstream call latency by route.", Buckets: latencyBuckets,
		}, []string{"route"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "idgate", Subsystem: "gateway", Name: "reloads_total",
			Help: "Configuration reloads by outcome.",
		}, []string{"outcome"}),
		children: map[childKey]child{},
		upChild:  map[string]prometheus.Observer{},
	}
	m.Registry.MustRegister(m.requests, m.duration, m.upstream, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Observe counts one finished request. Children are resolved once and kept:
// WithLabelValues hashes its labels on every call.
func (m *Metrics) Observe(route, class, tenant string, d time.Duration) {
	k := childKey{route, class, tenant}
	m.mu.RLock()
	c, ok := m.children[k]
	m.mu.RUnlock()
	if !ok {
		c = child{m.requests.WithLabelValues(route, class, tenant), m.duration.WithLabelValues(route, class, tenant)}
		m.mu.Lock()
		m.children[k] = c
		m.mu.Unlock()
	}
	c.requests.Inc()
	c.duration.Observe(d.Seconds())
}

// ObserveUpstream records one upstream call's latency.
func (m *Metrics) ObserveUpstream(route string, d time.Duration) {
	m.mu.RLock()
	o, ok := m.upChild[route]
	m.mu.RUnlock()
	if !ok {
		o = m.upstream.WithLabelValues(route)
		m.mu.Lock()
		m.upChild[route] = o
		m.mu.Unlock()
	}
	o.Observe(d.Seconds())
}

// Reload counts a reload ("ok" or "error").
func (m *Metrics) Reload(outcome string) { m.reloads.WithLabelValues(outcome).Inc() }

// Gauge registers a gauge read at scrape time.
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "idgate", Subsystem: "gateway", Name: name, Help: help,
	}, f))
}

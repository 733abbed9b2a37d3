// Package metrics exposes the gateway's Prometheus metrics from a registry
// per server instance. Labels are bounded: route names and tenant ids come
// from config, classes from a fixed list; nothing personal is ever a label.
package metrics

import (
	"maps"
	"sync"
	"sync/atomic"
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

	// The resolved children, copied on write: a lookup is a plain load.
	// An RWMutex's read lock writes its shared counter twice a lookup, a
	// cache line the two cores passed back and forth on every request.
	mu       sync.Mutex
	children atomic.Pointer[map[childKey]child]
	upChild  atomic.Pointer[map[string]prometheus.Observer]
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
	}
	m.children.Store(&map[childKey]child{})
	m.upChild.Store(&map[string]prometheus.Observer{})
	m.Registry.MustRegister(m.requests, m.duration, m.upstream, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Observe counts one finished request. Children are resolved once and kept:
// WithLabelValues hashes its labels on every call.
func (m *Metrics) Observe(route, class, tenant string, d time.Duration) {
	k := childKey{route, class, tenant}
	c, ok := (*m.children.Load())[k]
	if !ok {
		c = child{m.requests.WithLabelValues(route, class, tenant), m.duration.WithLabelValues(route, class, tenant)}
		m.mu.Lock()
		m.children.Store(with(*m.children.Load(), k, c))
		m.mu.Unlock()
	}
	c.requests.Inc()
	c.duration.Observe(d.Seconds())
}

// ObserveUpstream records one upstream call's latency.
func (m *Metrics) ObserveUpstream(route string, d time.Duration) {
	o, ok := (*m.upChild.Load())[route]
	if !ok {
		o = m.upstream.WithLabelValues(route)
		m.mu.Lock()
		m.upChild.Store(with(*m.upChild.Load(), route, o))
		m.mu.Unlock()
	}
	o.Observe(d.Seconds())
}

// with returns a copy of m holding k → v. Label sets are bounded (routes,
// classes, tenants from config), so the copies stop early.
func with[K comparable, V any](m map[K]V, k K, v V) *map[K]V {
	c := maps.Clone(m)
	c[k] = v
	return &c
}

// Reload counts a reload ("ok" or "error").
func (m *Metrics) Reload(outcome string) { m.reloads.WithLabelValues(outcome).Inc() }

// Counter registers a counter read at scrape time: f must never decrease
// while the process runs (a count since start), so rate() is meaningful.
func (m *Metrics) Counter(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "idgate", Subsystem: "gateway", Name: name, Help: help,
	}, f))
}

// Gauge registers a gauge read at scrape time.
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "idgate", Subsystem: "gateway", Name: name, Help: help,
	}, f))
}

// GaugeVec registers a labelled gauge read at scrape time: collect calls
// emit once per series with the values of labels, in order. It runs only
// when /metrics is scraped, so it costs the request path nothing; the
// caller keeps the label values bounded (ids from config). A series with
// the wrong number of label values fails that scrape's series, not the
// process.
func (m *Metrics) GaugeVec(name, help string, labels []string, collect func(emit func(v float64, labelValues ...string))) {
	m.Registry.MustRegister(&gaugeVec{
		desc:    prometheus.NewDesc(prometheus.BuildFQName("idgate", "gateway", name), help, labels, nil),
		collect: collect,
	})
}

type gaugeVec struct {
	desc    *prometheus.Desc
	collect func(emit func(v float64, labelValues ...string))
}

func (g *gaugeVec) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *gaugeVec) Collect(ch chan<- prometheus.Metric) {
	g.collect(func(v float64, lv ...string) {
		m, err := prometheus.NewConstMetric(g.desc, prometheus.GaugeValue, v, lv...)
		if err != nil {
			m = prometheus.NewInvalidMetric(g.desc, err)
		}
		ch <- m
	})
}

package server

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/fault"
	"github.com/idgate/idgate/simulator/stats"
)

// metrics are resolved once, so the hot path increments a counter it
// already holds instead of hashing label values. Counters never reset
// (POST /admin/reset clears the stats, not these): Prometheus rates stay
// correct across test runs.
type metrics struct {
	reg      *prometheus.Registry
	results  [8]prometheus.Counter           // by result index, status 200
	errors   [5]prometheus.Counter           // by stats.StatusIndex
	faults   [fault.Count]prometheus.Counter // by fault.Kind
	duration prometheus.Histogram
	// untracked counts ID numbers the daily limit could not track.
	untracked prometheus.Counter
	// encrypted counts encrypted requests by outcome: opened, or the
	// fieldcrypto error kind (the detail the client is never told).
	encrypted *prometheus.CounterVec
	// apis counts the answers of every API but check-2e by API and
	// outcome (result code, error code, fault name, "ok").
	apis *prometheus.CounterVec
}

func newMetrics(hanging func() float64) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &metrics{reg: reg}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idgate_simulator_requests_total",
		Help: "Check API requests by HTTP status, result code and injected fault (empty label: not applicable).",
	}, []string{"status", "result", "fault"})
	for i, r := range contracts.Results {
		m.results[i] = requests.WithLabelValues("200", string(r.Code), "")
	}
	for i, st := range stats.Statuses {
		m.errors[i] = requests.WithLabelValues(strconv.Itoa(st), "", "")
	}
	for _, k := range fault.Kinds {
		m.faults[k] = requests.WithLabelValues("", "", k.String())
	}
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "idgate_simulator_request_duration_seconds",
		Help:    "Time from routing a check request to handing its answer (or fault) to the network, injected latency included.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	})
	m.untracked = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "idgate_simulator_daily_limit_untracked_total",
		Help: "Verifications allowed uncounted because the daily-limit table was full (daily_limit.max_tracked).",
	})
	hang := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "idgate_simulator_hanging_connections",
		Help: "Connections currently held open by the hang fault.",
	}, hanging)
	m.encrypted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idgate_simulator_encrypted_requests_total",
		Help: "Encrypted check requests by outcome: opened, or why they could not be (fieldcrypto error kind).",
	}, []string{"outcome"})
	m.apis = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idgate_simulator_api_requests_total",
		Help: "Answers of the APIs other than check-2e (check-id-name-date, the Tencent Cloud API 3.0 actions) by API and outcome: result code, error code, fault name, or ok.",
	}, []string{"api", "outcome"})
	reg.MustRegister(requests, m.duration, m.untracked, hang, m.encrypted, m.apis)
	return m
}

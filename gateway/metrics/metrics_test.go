package metrics

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// counts gathers the registry: metric name → summed counter/gauge value,
// histogram sample count.
func counts(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			switch {
			case mt.Counter != nil:
				out[mf.GetName()] += mt.Counter.GetValue()
			case mt.Gauge != nil:
				out[mf.GetName()] += mt.Gauge.GetValue()
			case mt.Histogram != nil:
				out[mf.GetName()] += float64(mt.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func TestObserve(t *testing.T) {
	m := New()
	m2 := New() // a second instance in one process must not clash
	for i := 0; i < 3; i++ {
		m.Observe("check-2e", "billed", "acme", time.Millisecond)
	}
	m.Observe("check-2e", "not_billed", "acme", time.Millisecond)
	m.ObserveUpstream("check-2e", 2*time.Millisecond)
	m2.Observe("check-2e", "billed", "acme", time.Millisecond)
	m.Gauge("probe", "test gauge", func() float64 { return 7 })
	m.Counter("probe_total", "test counter", func() float64 { return 5 })
	got, got2 := counts(t, m), counts(t, m2)
	want := map[string]float64{
		"idgate_gateway_requests_total":            4,
		"idgate_gateway_request_duration_seconds":  4,
		"idgate_gateway_upstream_duration_seconds": 1,
		"idgate_gateway_probe":                     7,
		"idgate_gateway_probe_total":               5,
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
	// Every *_total series is a counter: rate() and promtool lint rely on it.
	mfs, _ := m.Registry.Gather()
	for _, mf := range mfs {
		if strings.HasSuffix(mf.GetName(), "_total") && mf.GetType() != dto.MetricType_COUNTER {
			t.Errorf("%s ends in _total but is a %v", mf.GetName(), mf.GetType())
		}
	}
	if got2["idgate_gateway_requests_total"] != 1 {
		t.Errorf("second registry: %v", got2["idgate_gateway_requests_total"])
	}
}

func TestGaugeVec(t *testing.T) {
	m := New()
	tenants := map[string]float64{"acme": 0.5, "demo": 0.25}
	m.GaugeVec("probe_ratio", "test labelled gauge", []string{"tenant"}, func(emit func(float64, ...string)) {
		for id, v := range tenants {
			emit(v, id)
		}
	})
	read := func() map[string]float64 {
		mfs, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "idgate_gateway_probe_ratio" {
				continue
			}
			if mf.GetType() != dto.MetricType_GAUGE {
				t.Errorf("type %v, want gauge", mf.GetType())
			}
			for _, mt := range mf.GetMetric() {
				out[mt.GetLabel()[0].GetValue()] = mt.GetGauge().GetValue()
			}
		}
		return out
	}
	got := read()
	if len(got) != 2 || got["acme"] != 0.5 || got["demo"] != 0.25 {
		t.Errorf("first scrape %v", got)
	}
	// Read at every scrape: a tenant gone from the source is gone from the page.
	delete(tenants, "acme")
	tenants["demo"] = 1
	if got := read(); len(got) != 1 || got["demo"] != 1 {
		t.Errorf("second scrape %v", got)
	}
	// A wrong label count fails the gather, never panics.
	bad := New()
	bad.GaugeVec("bad", "wrong label count", []string{"tenant"}, func(emit func(float64, ...string)) { emit(1) })
	if _, err := bad.Registry.Gather(); err == nil {
		t.Error("gather with a wrong label count: no error")
	}
}

func BenchmarkObserve(b *testing.B) {
	m := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Observe("check-2e", "billed", "demo", time.Millisecond)
			m.ObserveUpstream("check-2e", time.Millisecond)
		}
	})
}

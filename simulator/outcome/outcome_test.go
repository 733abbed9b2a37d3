package outcome

import (
	"encoding/json"
	"errors"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/fault"
	"go.yaml.in/yaml/v3"
)

func TestParsePrefer(t *testing.T) {
	cases := []struct {
		in   string
		want Prefer
	}{
		{"", Prefer{}},
		{"result=-5", Prefer{Result: contracts.ResultNoRecord}},
		{"result=0", Prefer{Result: contracts.ResultConsistent}},
		{`result="-1"`, Prefer{Result: contracts.ResultInconsistent}},
		{"RESULT=-7", Prefer{Result: contracts.ResultDailyLimit}},
		{"status=429", Prefer{Status: 429}},
		{"status=200", Prefer{}},
		{"latency=200ms", Prefer{Latency: 200 * time.Millisecond, HasLatency: true}},
		{"latency=250", Prefer{Latency: 250 * time.Millisecond, HasLatency: true}},
		{"latency=1.5s", Prefer{Latency: 1500 * time.Millisecond, HasLatency: true}},
		{"fault=connection_reset", Prefer{Fault: fault.ConnectionReset}},
		{"fault=hang", Prefer{Fault: fault.Hang}},
		{"sim=42.5", Prefer{Sim: 42.5, HasSim: true}},
		{"result=-4, latency=10ms, fault=empty_response", Prefer{Result: contracts.ResultDBError, Latency: 10 * time.Millisecond, HasLatency: true, Fault: fault.EmptyResponse}},
		{" result = -6 ;foo=bar , status=500;x", Prefer{Result: contracts.ResultUpgrading, Status: 500}},
		{"respond-async, wait=100, return=minimal", Prefer{}},
		{"result=-1, result=-2", Prefer{Result: contracts.ResultInconsistent}},
		{`handling="strict,lenient", result=-3`, Prefer{Result: contracts.ResultIllegalName}},
		{",,result=-2,,", Prefer{Result: contracts.ResultIllegalID}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var p Prefer
			if err := ParsePrefer(&p, []byte(tc.in)); err != nil {
				t.Fatalf("err %v", err)
			}
			if p != tc.want {
				t.Errorf("got %+v, want %+v", p, tc.want)
			}
			if p.Empty() != (p.Applied() == "") {
				t.Errorf("Applied() = %q for %+v", p.Applied(), p)
			}
			if p.Empty() != (tc.want == Prefer{}) {
				t.Errorf("Empty() = %v", p.Empty())
			}
		})
	}
}

func TestApplied(t *testing.T) {
	p := Prefer{Result: "-5", Status: 429, Fault: fault.Hang, Latency: 1500 * time.Millisecond, HasLatency: true, Sim: 42.5, HasSim: true}
	if got := p.Applied(); got != "result=-5, status=429, fault=hang, latency=1.5s, sim=42.5" {
		t.Errorf("Applied() = %q", got)
	}
	var back Prefer
	if err := ParsePrefer(&back, []byte(p.Applied())); err != nil || back != p {
		t.Errorf("round trip: %+v %v", back, err)
	}
}

func TestParsePreferRejects(t *testing.T) {
	for _, in := range []string{
		"result=1", "result=", "result", "result=-8", "status=404", "status=abc", "status=201",
		"latency=soon", "latency=-5ms", "latency=", "fault=meteor", "fault=", "sim=101", "sim=-1", "sim=NaN", "sim=x",
	} {
		t.Run(in, func(t *testing.T) {
			var p Prefer
			if err := ParsePrefer(&p, []byte(in)); !errors.Is(err, ErrPrefer) {
				t.Errorf("err = %v, want ErrPrefer", err)
			}
		})
	}
}

func TestParsePreferRejectsBadLatency(t *testing.T) {
	for _, in := range []string{
		"latency=NaN", "latency=nan", `latency="NaN"`, "latency=Inf", "latency=+Inf", "latency=-Inf", "latency=infinity",
		"latency=-1", "latency=-0.5", "latency=-1ns", "latency=1e308", "latency=1e400", "latency=-1e400",
		"latency=9223372036854775807", "latency=2562048h", "latency=9223372036854775808ns",
		"result=0, latency=NaN",
	} {
		t.Run(in, func(t *testing.T) {
			var p Prefer
			if err := ParsePrefer(&p, []byte(in)); !errors.Is(err, ErrPrefer) {
				t.Errorf("err = %v (latency %v), want ErrPrefer", err, p.Latency)
			}
		})
	}
	for _, bad := range []string{`"NaN"`, `"Inf"`, `"-Inf"`, `"1e400"`, `1e400`, `"2562048h"`} {
		var d Duration
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("json %s accepted as %v", bad, d)
		}
	}
}

func TestParsePreferFirstHeaderLineWins(t *testing.T) {
	var p Prefer
	if err := ParsePrefer(&p, []byte("result=-1")); err != nil {
		t.Fatal(err)
	}
	if err := ParsePrefer(&p, []byte("result=-5, status=500")); err != nil {
		t.Fatal(err)
	}
	if p.Result != contracts.ResultInconsistent || p.Status != 500 {
		t.Errorf("got %+v", p)
	}
}

func TestParsePreferDoesNotAllocate(t *testing.T) {
	h := []byte("result=-5, status=429, fault=connection_reset, respond-async")
	allocs := testing.AllocsPerRun(100, func() {
		var p Prefer
		_ = ParsePrefer(&p, h)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per parse", allocs)
	}
}

func FuzzParsePrefer(f *testing.F) {
	for _, s := range []string{"result=-5", "status=429, latency=200ms", `fault="hang";x=1`, "sim=70", `a="\"`, "latency=1e308", ",=,", "latency=NaN", "latency=-Inf", "latency=2562047h"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		var p Prefer
		if err := ParsePrefer(&p, h); err != nil {
			if !errors.Is(err, ErrPrefer) {
				t.Fatalf("error not marked ErrPrefer: %v", err)
			}
			return
		}
		if p.Result != "" {
			if _, ok := contracts.LookupResult(p.Result); !ok {
				t.Fatalf("result %q", p.Result)
			}
		}
		if p.Status != 0 && !ValidStatus(p.Status) {
			t.Fatalf("status %d", p.Status)
		}
		if p.Latency < 0 || (p.HasSim && !(p.Sim >= 0 && p.Sim <= 100)) {
			t.Fatalf("out of range: %+v", p)
		}
		// What is applied is what was asked: it reads back the same.
		var back Prefer
		if err := ParsePrefer(&back, []byte(p.Applied())); err != nil || back != p {
			t.Fatalf("Preference-Applied %q reads back as %+v, %v; want %+v", p.Applied(), back, err, p)
		}
	})
}

func TestDurationCodecs(t *testing.T) {
	var d Duration
	for in, want := range map[string]time.Duration{`"200ms"`: 200 * time.Millisecond, `150`: 150 * time.Millisecond, `"2.5"`: 2500 * time.Microsecond} {
		if err := json.Unmarshal([]byte(in), &d); err != nil || d.D() != want {
			t.Errorf("json %s: %v %v", in, d, err)
		}
	}
	b, _ := json.Marshal(Duration(1500 * time.Millisecond))
	if string(b) != `"1.5s"` {
		t.Errorf("marshal %s", b)
	}
	if err := yaml.Unmarshal([]byte("3s"), &d); err != nil || d.D() != 3*time.Second {
		t.Errorf("yaml: %v %v", d, err)
	}
	for _, bad := range []string{`"soon"`, `-1`, `true`, `""`} {
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("json %s accepted", bad)
		}
	}
}

const capLatency = time.Minute

func draws(t *testing.T, spec ScenarioSpec, n int) []Draw {
	t.Helper()
	s, err := NewScenario(spec, capLatency)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Draw, n)
	for i := range out {
		out[i] = s.Next()
	}
	return out
}

func TestLatencyDistributions(t *testing.T) {
	const n = 4000
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	t.Run("fixed", func(t *testing.T) {
		for _, d := range draws(t, ScenarioSpec{Seed: 1, Latency: LatencySpec{Distribution: DistFixed, Value: Duration(20 * time.Millisecond)}}, 100) {
			if d.Latency != 20*time.Millisecond {
				t.Fatalf("latency %v", d.Latency)
			}
		}
	})
	t.Run("uniform", func(t *testing.T) {
		sum := 0.0
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, d := range draws(t, ScenarioSpec{Seed: 2, Latency: LatencySpec{Distribution: DistUniform, Min: Duration(10 * time.Millisecond), Max: Duration(30 * time.Millisecond)}}, n) {
			v := ms(d.Latency)
			if v < 10 || v > 30 {
				t.Fatalf("latency %v outside [10ms,30ms]", d.Latency)
			}
			sum += v
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if mean := sum / n; math.Abs(mean-20) > 1 {
			t.Errorf("mean %.2fms, want about 20ms", mean)
		}
		if lo > 11 || hi < 29 {
			t.Errorf("range [%v,%v] does not span the interval", lo, hi)
		}
	})
	t.Run("lognormal", func(t *testing.T) {
		var vs []float64
		for _, d := range draws(t, ScenarioSpec{Seed: 3, Latency: LatencySpec{Distribution: DistLognormal, Median: Duration(50 * time.Millisecond), Sigma: 0.5}}, n) {
			vs = append(vs, ms(d.Latency))
		}
		sort.Float64s(vs)
		median := vs[n/2]
		if math.Abs(median-50) > 5 {
			t.Errorf("median %.2fms, want about 50ms", median)
		}
		// The 84th percentile of a lognormal is median*exp(sigma).
		if p84 := vs[n*84/100]; math.Abs(p84-50*math.Exp(0.5)) > 10 {
			t.Errorf("p84 %.2fms, want about %.2fms", p84, 50*math.Exp(0.5))
		}
		if vs[0] <= 0 {
			t.Errorf("non-positive latency %v", vs[0])
		}
	})
	t.Run("lognormal capped", func(t *testing.T) {
		for _, d := range draws(t, ScenarioSpec{Seed: 4, Latency: LatencySpec{Distribution: DistLognormal, Median: Duration(50 * time.Millisecond), Sigma: 3, Max: Duration(80 * time.Millisecond)}}, n) {
			if d.Latency > 80*time.Millisecond {
				t.Fatalf("latency %v above max", d.Latency)
			}
		}
	})
}

func TestScenarioMixAndFaultRate(t *testing.T) {
	const n = 10000
	spec := ScenarioSpec{
		Seed: 99,
		Outcomes: []WeightedOutcome{
			{Weight: 7, Result: contracts.ResultConsistent},
			{Weight: 2, Result: contracts.ResultInconsistent},
			{Weight: 1, Status: 429},
		},
		FaultRate: 0.05,
		Faults:    []WeightedFault{{Fault: "connection_reset", Weight: 3}, {Fault: "hang", Weight: 1}},
	}
	counts := map[string]int{}
	for _, d := range draws(t, spec, n) {
		if !d.HasOutcome {
			t.Fatal("no outcome drawn")
		}
		if d.Fault != fault.None {
			counts["fault:"+d.Fault.String()]++
		}
		if d.Status != 0 {
			counts["429"]++
		} else {
			counts[string(d.Result)]++
		}
	}
	near := func(key string, share, tol float64) {
		if got := float64(counts[key]) / n; math.Abs(got-share) > tol {
			t.Errorf("%s: share %.3f, want %.3f±%.3f", key, got, share, tol)
		}
	}
	near("0", 0.7, 0.03)
	near("-1", 0.2, 0.03)
	near("429", 0.1, 0.02)
	near("fault:connection_reset", 0.0375, 0.01)
	near("fault:hang", 0.0125, 0.006)
}

func TestScenarioWeightBounds(t *testing.T) {
	mix := func(w ...float64) ScenarioSpec {
		spec := ScenarioSpec{}
		for i, x := range w {
			spec.Outcomes = append(spec.Outcomes, WeightedOutcome{Weight: x, Result: []contracts.ResultCode{"0", "-1"}[i%2]})
		}
		return spec
	}
	faults := func(w float64) ScenarioSpec {
		return ScenarioSpec{FaultRate: 0.5, Faults: []WeightedFault{{Fault: "hang", Weight: 1}, {Fault: "connection_reset", Weight: w}}}
	}
	for _, tc := range []struct {
		name string
		spec ScenarioSpec
		ok   bool
	}{
		{"smallest positive", mix(math.SmallestNonzeroFloat64, 1), true},
		{"at the bound", mix(MaxWeight, MaxWeight), true},
		{"fractional", mix(0.25, 0.75), true},
		{"zero", mix(0, 1), false},
		{"negative", mix(-1, 1), false},
		{"negative zero", mix(math.Copysign(0, -1), 1), false},
		{"above the bound", mix(MaxWeight*1.000001, 1), false},
		{"1e308", mix(1e308, 1e308), false},
		{"max float", mix(math.MaxFloat64, 1), false},
		{"NaN", mix(math.NaN(), 1), false},
		{"+Inf", mix(math.Inf(1), 1), false},
		{"-Inf", mix(math.Inf(-1), 1), false},
		{"fault at the bound", faults(MaxWeight), true},
		{"fault 1e308", faults(1e308), false},
		{"fault NaN", faults(math.NaN()), false},
		{"fault +Inf", faults(math.Inf(1)), false},
		{"fault negative", faults(-2), false},
		{"fault zero", faults(0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewScenario(tc.spec, capLatency)
			if (err == nil) != tc.ok {
				t.Fatalf("NewScenario: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "weight") {
				t.Errorf("error %q does not name the weight", err)
			}
		})
	}
}

// TestScenarioMixBounds: an outcome mix and a fault mix hold at most
// MaxMixEntries entries each.
func TestScenarioMixBounds(t *testing.T) {
	outcomes := func(n int) ScenarioSpec {
		spec := ScenarioSpec{}
		for range n {
			spec.Outcomes = append(spec.Outcomes, WeightedOutcome{Weight: 1, Result: "0"})
		}
		return spec
	}
	faults := func(n int) ScenarioSpec {
		spec := ScenarioSpec{FaultRate: 0.5}
		for range n {
			spec.Faults = append(spec.Faults, WeightedFault{Fault: "hang", Weight: 1})
		}
		return spec
	}
	for _, tc := range []struct {
		name string
		spec ScenarioSpec
		err  string // "" accepted
	}{
		{"one outcome", outcomes(1), ""},
		{"outcomes at the bound", outcomes(MaxMixEntries), ""},
		{"outcomes over the bound", outcomes(MaxMixEntries + 1), "outcomes: at most 64 entries"},
		{"outcomes far over the bound", outcomes(10_000), "outcomes: at most 64 entries"},
		{"faults at the bound", faults(MaxMixEntries), ""},
		{"faults over the bound", faults(MaxMixEntries + 1), "faults: at most 64 entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewScenario(tc.spec, capLatency)
			if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("NewScenario: %v, want %q", err, tc.err)
			}
		})
	}
}

func TestScenarioEqualWeightsAtTheBoundSplitEvenly(t *testing.T) {
	const n = 4000
	spec := ScenarioSpec{Seed: 8, Outcomes: []WeightedOutcome{{Weight: MaxWeight, Result: "0"}, {Weight: MaxWeight, Result: "-1"}}}
	zero := 0
	for _, d := range draws(t, spec, n) {
		if d.Result == "0" {
			zero++
		}
	}
	if share := float64(zero) / n; math.Abs(share-0.5) > 0.04 {
		t.Errorf("share of \"0\" %.3f, want 0.5", share)
	}
}

func TestScenarioDefaultFaultsExcludeHang(t *testing.T) {
	seen := map[fault.Kind]bool{}
	for _, d := range draws(t, ScenarioSpec{Seed: 5, FaultRate: 1}, 400) {
		seen[d.Fault] = true
		if d.HasOutcome {
			t.Fatal("outcome drawn from an empty mix")
		}
	}
	if seen[fault.Hang] || seen[fault.None] || len(seen) != 4 {
		t.Errorf("faults drawn: %v", seen)
	}
}

func TestScenarioReproducible(t *testing.T) {
	spec := ScenarioSpec{
		Seed:      12345,
		Outcomes:  []WeightedOutcome{{Weight: 1, Result: "0"}, {Weight: 1, Result: "-1"}, {Weight: 1, Status: 500}},
		Latency:   LatencySpec{Distribution: DistLognormal, Median: Duration(time.Millisecond), Sigma: 1},
		FaultRate: 0.2,
	}
	a, b := draws(t, spec, 200), draws(t, spec, 200)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d differs: %+v vs %+v", i, a[i], b[i])
		}
	}
	// Reset rewinds to the first draw.
	s, _ := NewScenario(spec, capLatency)
	for i := 0; i < 50; i++ {
		s.Next()
	}
	s.Reset()
	if s.Seq() != 0 {
		t.Errorf("seq %d after reset", s.Seq())
	}
	for i := 0; i < 200; i++ {
		if d := s.Next(); d != a[i] {
			t.Fatalf("after reset, draw %d differs", i)
		}
	}
	// Another seed gives another sequence.
	spec.Seed++
	c := draws(t, spec, 200)
	same := 0
	for i := range a {
		if a[i].Latency == c[i].Latency {
			same++
		}
	}
	if same > 5 {
		t.Errorf("seeds %d and %d agree on %d of 200 latencies", spec.Seed-1, spec.Seed, same)
	}
}

func TestScenarioConcurrentDrawsAreComplete(t *testing.T) {
	s, _ := NewScenario(ScenarioSpec{Seed: 1, FaultRate: 0.5}, capLatency)
	done := make(chan map[uint64]bool)
	for g := 0; g < 4; g++ {
		go func() {
			m := map[uint64]bool{}
			for i := 0; i < 250; i++ {
				m[s.Next().Seq] = true
			}
			done <- m
		}()
	}
	all := map[uint64]bool{}
	for g := 0; g < 4; g++ {
		for k := range <-done {
			if all[k] {
				t.Fatalf("seq %d drawn twice", k)
			}
			all[k] = true
		}
	}
	if len(all) != 1000 || !all[1] || !all[1000] {
		t.Errorf("%d distinct seqs", len(all))
	}
}

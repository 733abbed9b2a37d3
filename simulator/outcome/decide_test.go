package outcome

import (
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/fault"
)

func TestDecidePrecedence(t *testing.T) {
	magicFor := func(id string) *contracts.MagicIdentity {
		m, ok := contracts.LookupMagic(id)
		if !ok {
			t.Fatalf("no magic identity %s", id)
		}
		return &m
	}
	scenario := func(js ScenarioSpec) *Scenario {
		s, err := NewScenario(js, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	always := func(o WeightedOutcome) *Scenario {
		o.Weight = 1
		return scenario(ScenarioSpec{Outcomes: []WeightedOutcome{o}, Latency: LatencySpec{Distribution: DistFixed, Value: Duration(7 * time.Millisecond)}})
	}
	exceeded := func() bool { return true }
	lowSim := magicFor("110101191111110109")
	cases := []struct {
		name     string
		prefer   Prefer
		magic    *contracts.MagicIdentity
		sc       *Scenario
		exceeded func() bool
		want     Decision
	}{
		{"nothing", Prefer{}, nil, nil, nil, Decision{Source: SourceDefault, Result: "0"}},
		{"daily limit", Prefer{}, nil, nil, exceeded, Decision{Source: SourceDailyLimit, Result: "-7"}},
		{"prefer result beats everything", Prefer{Result: "-5"}, magicFor("110101191111110045"), always(WeightedOutcome{Result: "-1"}), exceeded,
			Decision{Source: SourcePrefer, Result: "-5", Latency: 7 * time.Millisecond, ScenarioSeq: 1}},
		{"prefer status beats result", Prefer{Result: "0", Status: 500}, nil, nil, nil, Decision{Source: SourcePrefer, Status: 500}},
		{"prefer fault beats status", Prefer{Status: 500, Fault: fault.Hang}, nil, nil, nil, Decision{Source: SourcePrefer, Fault: fault.Hang}},
		{"prefer latency alone keeps the magic outcome", Prefer{Latency: time.Second, HasLatency: true}, magicFor("110101191111110053"), nil, nil,
			Decision{Source: SourceMagic, Result: "-5", Latency: time.Second}},
		{"magic beats scenario and daily limit", Prefer{}, magicFor("110101191111110061"), always(WeightedOutcome{Result: "-1"}), exceeded,
			Decision{Source: SourceMagic, Result: "-6", Latency: 7 * time.Millisecond, ScenarioSeq: 1}},
		{"magic status", Prefer{}, magicFor("11010119111111429X"), nil, nil, Decision{Source: SourceMagic, Status: 429}},
		{"magic fault", Prefer{}, magicFor("110101191111119015"), nil, nil, Decision{Source: SourceMagic, Fault: fault.ConnectionReset}},
		{"magic sim", Prefer{}, lowSim, nil, nil, Decision{Source: SourceMagic, Result: "0", Sim: 42.5, HasSim: true}},
		{"prefer sim beats magic sim", Prefer{Sim: 99, HasSim: true}, lowSim, nil, nil, Decision{Source: SourceMagic, Result: "0", Sim: 99, HasSim: true}},
		{"scenario beats daily limit", Prefer{}, nil, always(WeightedOutcome{Status: 401}), exceeded,
			Decision{Source: SourceScenario, Status: 401, Latency: 7 * time.Millisecond, ScenarioSeq: 1}},
		{"scenario without outcomes leaves the daily limit", Prefer{}, nil, scenario(ScenarioSpec{}), exceeded,
			Decision{Source: SourceDailyLimit, Result: "-7", ScenarioSeq: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(&tc.prefer, tc.magic, tc.sc, tc.exceeded)
			got.FaultSeed = 0 // random, checked elsewhere
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecideAsksDailyLimitOnlyWhenUndecided(t *testing.T) {
	asked := 0
	count := func() bool { asked++; return false }
	Decide(&Prefer{Result: "-1"}, nil, nil, count)
	m, _ := contracts.LookupMagic("110101191111110010")
	Decide(&Prefer{}, &m, nil, count)
	if asked != 0 {
		t.Errorf("daily limit consulted %d times for decided requests", asked)
	}
	Decide(&Prefer{}, nil, nil, count)
	if asked != 1 {
		t.Errorf("daily limit consulted %d times for an undecided request", asked)
	}
}

func TestDecideScenarioFaultAndSeed(t *testing.T) {
	sc, _ := NewScenario(ScenarioSpec{Seed: 5, FaultRate: 1, Faults: []WeightedFault{{Fault: "random_then_close", Weight: 1}}}, time.Minute)
	d := Decide(&Prefer{}, nil, sc, nil)
	if d.Source != SourceScenario || d.Fault != fault.RandomThenClose || d.FaultSeed == 0 || d.Result != "" {
		t.Errorf("%+v", d)
	}
}

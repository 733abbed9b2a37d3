package outcome

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/fault"
)

// ScenarioSpec is a token's programmed behaviour, as the admin API and the
// config file write it. Every random choice comes from one PRNG seeded with
// Seed, and every request consumes the same number of draws whatever it
// gets, so the n-th request after a (re)set always gets the same answer:
// a load test replays exactly.
type ScenarioSpec struct {
	// Seed of the scenario's PRNG; 0 is a valid seed.
	Seed uint64 `json:"seed" yaml:"seed"`
	// Outcomes is the weighted mix of answers. Empty: the request is
	// answered as without a scenario (magic identities, daily limit, "0").
	Outcomes []WeightedOutcome `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
	// Latency added to every answer, faults included.
	Latency LatencySpec `json:"latency" yaml:"latency"`
	// FaultRate is the probability (0..1) that a request ends in a fault
	// instead of an answer.
	FaultRate float64 `json:"fault_rate" yaml:"fault_rate"`
	// Faults is the weighted mix of faults when one fires. Empty: every
	// fault except hang, equally likely (a hang stalls load tests; ask for
	// it by name).
	Faults []WeightedFault `json:"faults,omitempty" yaml:"faults,omitempty"`
}

// MaxWeight bounds every weight of a scenario's outcome and fault mixes. A
// weight is a finite number above 0 and at most MaxWeight; shares finer
// than one in a million are not worth a load test's time, and the bound
// keeps the sum of any mix a request body can carry far from overflowing,
// so the shares drawn are the shares asked for.
const MaxWeight = 1e6

// MaxMixEntries bounds the number of entries of a scenario's outcome mix
// and of its fault mix: every answer and fault the simulator knows fits
// many times over, and a request's draw walks the mix, so its cost stays
// bounded whatever the admin API or a config file sends.
const MaxMixEntries = 64

// validWeight reports whether w is a usable weight; written so that NaN,
// which fails every comparison, is refused.
func validWeight(w float64) bool { return w > 0 && w <= MaxWeight }

// WeightedOutcome is one answer of a scenario's mix. Exactly one of Result
// (a 200 answer) and Status (an HTTP error) is set.
type WeightedOutcome struct {
	Weight float64              `json:"weight" yaml:"weight"`
	Result contracts.ResultCode `json:"result,omitempty" yaml:"result,omitempty"`
	Status int                  `json:"status,omitempty" yaml:"status,omitempty"`
	// Sim, with image_url in the request, is the face similarity to report.
	Sim *float64 `json:"sim,omitempty" yaml:"sim,omitempty"`
}

// WeightedFault is one fault of a scenario's fault mix.
type WeightedFault struct {
	Fault  string  `json:"fault" yaml:"fault"`
	Weight float64 `json:"weight" yaml:"weight"`
}

// Latency distributions.
const (
	DistNone      = ""
	DistFixed     = "fixed"
	DistUniform   = "uniform"
	DistLognormal = "lognormal"
)

// LatencySpec is a latency distribution:
//
//	fixed:     every answer waits Value
//	uniform:   uniform between Min and Max
//	lognormal: Median * exp(Sigma * N(0,1)), the long right tail real
//	           services show; capped at Max when Max > 0
type LatencySpec struct {
	Distribution string   `json:"distribution,omitempty" yaml:"distribution,omitempty"`
	Value        Duration `json:"value,omitempty" yaml:"value,omitempty"`
	Min          Duration `json:"min,omitempty" yaml:"min,omitempty"`
	Max          Duration `json:"max,omitempty" yaml:"max,omitempty"`
	Median       Duration `json:"median,omitempty" yaml:"median,omitempty"`
	Sigma        float64  `json:"sigma,omitempty" yaml:"sigma,omitempty"`
}

// Validate checks the distribution's parameters against a cap on any
// single latency.
func (l LatencySpec) Validate(maxLatency time.Duration) error {
	switch l.Distribution {
	case DistNone:
		if l.Value != 0 || l.Min != 0 || l.Max != 0 || l.Median != 0 || l.Sigma != 0 {
			return errors.New("latency: parameters given without a distribution (fixed, uniform or lognormal)")
		}
	case DistFixed:
		if l.Value < 0 || l.Value.D() > maxLatency {
			return fmt.Errorf("latency: fixed value must be between 0 and %s", maxLatency)
		}
	case DistUniform:
		if l.Min < 0 || l.Max < l.Min || l.Max.D() > maxLatency {
			return fmt.Errorf("latency: uniform needs 0 <= min <= max <= %s", maxLatency)
		}
	case DistLognormal:
		if l.Median <= 0 || l.Median.D() > maxLatency {
			return fmt.Errorf("latency: lognormal median must be above 0 and at most %s", maxLatency)
		}
		if !(l.Sigma >= 0 && l.Sigma <= 5) {
			return errors.New("latency: lognormal sigma must be between 0 and 5")
		}
		if l.Max < 0 || l.Max.D() > maxLatency {
			return fmt.Errorf("latency: lognormal max must be between 0 and %s (0 = the server's cap)", maxLatency)
		}
	default:
		return fmt.Errorf("latency: unknown distribution %q (fixed, uniform or lognormal)", l.Distribution)
	}
	return nil
}

// Sample maps two uniform draws in [0,1) to a latency. Using exactly two
// draws for every distribution keeps a scenario's draw sequence aligned
// whatever its distribution. maxLatency caps the lognormal tail.
func (l LatencySpec) Sample(u1, u2 float64, maxLatency time.Duration) time.Duration {
	switch l.Distribution {
	case DistFixed:
		return l.Value.D()
	case DistUniform:
		return l.Min.D() + time.Duration(u1*float64(l.Max-l.Min))
	case DistLognormal:
		// Box-Muller; 1-u1 lies in (0,1], so the logarithm is finite.
		z := math.Sqrt(-2*math.Log(1-u1)) * math.Cos(2*math.Pi*u2)
		d := float64(l.Median) * math.Exp(l.Sigma*z)
		limit := maxLatency
		if l.Max > 0 && l.Max.D() < limit {
			limit = l.Max.D()
		}
		if d > float64(limit) {
			return limit
		}
		return time.Duration(d)
	}
	return 0
}

// Validate checks a scenario spec against the server's latency cap.
func (s *ScenarioSpec) Validate(maxLatency time.Duration) error {
	_, err := NewScenario(*s, maxLatency)
	return err
}

// Scenario is a compiled ScenarioSpec with its PRNG. It is safe for
// concurrent use; concurrent requests take their draws in arrival order.
type Scenario struct {
	spec       ScenarioSpec
	maxLatency time.Duration

	outcomes   []WeightedOutcome
	outcomeCum []float64 // cumulative weights, normalised to end at 1
	faults     []fault.Kind
	faultCum   []float64

	mu  sync.Mutex
	rng *rand.Rand
	pcg *rand.PCG
	seq uint64
}

// NewScenario validates and compiles a spec.
func NewScenario(spec ScenarioSpec, maxLatency time.Duration) (*Scenario, error) {
	s := &Scenario{spec: spec, maxLatency: maxLatency}
	if err := spec.Latency.Validate(maxLatency); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if !(spec.FaultRate >= 0 && spec.FaultRate <= 1) {
		return nil, errors.New("scenario: fault_rate must be between 0 and 1")
	}
	if len(spec.Outcomes) > MaxMixEntries {
		return nil, fmt.Errorf("scenario: outcomes: at most %d entries", MaxMixEntries)
	}
	if len(spec.Faults) > MaxMixEntries {
		return nil, fmt.Errorf("scenario: faults: at most %d entries", MaxMixEntries)
	}
	total := 0.0
	for i, o := range spec.Outcomes {
		if !validWeight(o.Weight) {
			return nil, fmt.Errorf("scenario: outcomes[%d]: weight must be a number above 0 and at most %.0f", i, float64(MaxWeight))
		}
		switch {
		case o.Result != "" && o.Status != 0:
			return nil, fmt.Errorf("scenario: outcomes[%d]: set result or status, not both", i)
		case o.Result != "":
			if _, ok := contracts.LookupResult(o.Result); !ok {
				return nil, fmt.Errorf("scenario: outcomes[%d]: unknown result %q", i, o.Result)
			}
		case o.Status != 0:
			if !ValidStatus(o.Status) {
				return nil, fmt.Errorf("scenario: outcomes[%d]: status must be 400, 401, 429 or 500", i)
			}
		default:
			return nil, fmt.Errorf("scenario: outcomes[%d]: needs a result or a status", i)
		}
		if o.Sim != nil && !(*o.Sim >= 0 && *o.Sim <= 100) {
			return nil, fmt.Errorf("scenario: outcomes[%d]: sim must be between 0 and 100", i)
		}
		total += o.Weight
		s.outcomes = append(s.outcomes, o)
		s.outcomeCum = append(s.outcomeCum, total)
	}
	for i := range s.outcomeCum {
		s.outcomeCum[i] /= total
	}
	if len(spec.Faults) == 0 {
		for _, k := range fault.Kinds {
			if k != fault.Hang {
				s.faults = append(s.faults, k)
				s.faultCum = append(s.faultCum, float64(len(s.faults)))
			}
		}
		total = float64(len(s.faults))
	} else {
		total = 0
		for i, f := range spec.Faults {
			k, ok := fault.Parse(f.Fault)
			if !ok {
				return nil, fmt.Errorf("scenario: faults[%d]: unknown fault %q", i, f.Fault)
			}
			if !validWeight(f.Weight) {
				return nil, fmt.Errorf("scenario: faults[%d]: weight must be a number above 0 and at most %.0f", i, float64(MaxWeight))
			}
			total += f.Weight
			s.faults = append(s.faults, k)
			s.faultCum = append(s.faultCum, total)
		}
	}
	for i := range s.faultCum {
		s.faultCum[i] /= total
	}
	s.pcg = rand.NewPCG(spec.Seed, spec.Seed^0x9e3779b97f4a7c15)
	s.rng = rand.New(s.pcg)
	return s, nil
}

// ValidStatus reports whether a Prefer header or a scenario may ask for
// this HTTP error.
func ValidStatus(st int) bool {
	for _, s := range PreferStatuses {
		if s == st {
			return true
		}
	}
	return false
}

// Spec is the scenario as configured.
func (s *Scenario) Spec() ScenarioSpec { return s.spec }

// Draw is one request's share of a scenario.
type Draw struct {
	// Seq numbers the draw from 1 since the scenario was set or reset.
	Seq uint64
	// HasOutcome is false when the scenario has no outcome mix.
	HasOutcome bool
	Result     contracts.ResultCode
	Status     int
	Sim        float64
	HasSim     bool
	Fault      fault.Kind
	Latency    time.Duration
	// FaultSeed drives the bytes of a random_then_close fault.
	FaultSeed uint64
}

// Next takes the next request's draws: always six values from the PRNG, in
// the same order, whatever they decide.
func (s *Scenario) Next() Draw {
	s.mu.Lock()
	s.seq++
	seq := s.seq
	uFault, uWhich, uOutcome := s.rng.Float64(), s.rng.Float64(), s.rng.Float64()
	uLat1, uLat2 := s.rng.Float64(), s.rng.Float64()
	faultSeed := s.rng.Uint64()
	s.mu.Unlock()

	d := Draw{Seq: seq, FaultSeed: faultSeed}
	if uFault < s.spec.FaultRate {
		d.Fault = s.faults[pick(s.faultCum, uWhich)]
	}
	if len(s.outcomes) > 0 {
		o := s.outcomes[pick(s.outcomeCum, uOutcome)]
		d.HasOutcome, d.Result, d.Status = true, o.Result, o.Status
		if o.Sim != nil {
			d.Sim, d.HasSim = *o.Sim, true
		}
	}
	d.Latency = s.spec.Latency.Sample(uLat1, uLat2, s.maxLatency)
	return d
}

// Reset rewinds the PRNG to the seed: the next request is draw 1 again.
func (s *Scenario) Reset() {
	s.mu.Lock()
	s.pcg.Seed(s.spec.Seed, s.spec.Seed^0x9e3779b97f4a7c15)
	s.seq = 0
	s.mu.Unlock()
}

// Seq is the number of draws taken since the scenario was set or reset.
func (s *Scenario) Seq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// pick returns the index of the first cumulative weight above u.
func pick(cum []float64, u float64) int {
	for i, c := range cum {
		if u < c {
			return i
		}
	}
	return len(cum) - 1
}

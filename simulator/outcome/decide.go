package outcome

import (
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/fault"
)

// Source names what chose an answer; the journal records it.
type Source string

// The sources, in order of precedence.
const (
	SourcePrefer     Source = "prefer"
	SourceMagic      Source = "magic"
	SourceScenario   Source = "scenario"
	SourceDailyLimit Source = "daily_limit"
	SourceDefault    Source = "default"
)

// Decision is the answer chosen for a valid request: exactly one of Fault,
// Status and Result says what to send.
type Decision struct {
	Source  Source
	Fault   fault.Kind
	Status  int
	Result  contracts.ResultCode
	Sim     float64
	HasSim  bool
	Latency time.Duration
	// ScenarioSeq is the scenario draw this request took (0: none).
	ScenarioSeq uint64
	// FaultSeed drives random_then_close's bytes (0: derive from input).
	FaultSeed uint64
}

// Decide picks the answer of a valid request. Each part of it comes from
// the first source that sets it: the Prefer header, then the magic
// identity (nil: none), then the scenario (nil: none). When none decides,
// dailyLimitExceeded (nil: no limit) is asked, so only undecided requests
// count against the daily limit and explicit test outcomes never turn into
// "-7"; otherwise the answer is "0". A scenario draws for every valid
// request, decided elsewhere or not, so its n-th draw always belongs to the
// n-th valid request.
func Decide(p *Prefer, magic *contracts.MagicIdentity, sc *Scenario, dailyLimitExceeded func() bool) Decision {
	var dec Decision
	var d Draw
	if sc != nil {
		d = sc.Next()
		dec.ScenarioSeq, dec.Latency, dec.FaultSeed = d.Seq, d.Latency, d.FaultSeed
	}
	if p.HasLatency {
		dec.Latency = p.Latency
	}
	switch {
	case p.Fault != fault.None:
		dec.Source, dec.Fault = SourcePrefer, p.Fault
	case p.Status != 0:
		dec.Source, dec.Status = SourcePrefer, p.Status
	case p.Result != "":
		dec.Source, dec.Result = SourcePrefer, p.Result
	case magic != nil:
		dec.Source = SourceMagic
		switch {
		case magic.Fault != "":
			dec.Fault, _ = fault.Parse(magic.Fault)
		case magic.Status != 0:
			dec.Status = magic.Status
		default:
			dec.Result = magic.Result
			dec.Sim, dec.HasSim = magic.Sim, magic.Sim != 0
		}
	case d.Fault != fault.None:
		dec.Source, dec.Fault = SourceScenario, d.Fault
	case d.HasOutcome:
		dec.Source, dec.Status, dec.Result = SourceScenario, d.Status, d.Result
		dec.Sim, dec.HasSim = d.Sim, d.HasSim
	case dailyLimitExceeded != nil && dailyLimitExceeded():
		dec.Source, dec.Result = SourceDailyLimit, contracts.ResultDailyLimit
	default:
		dec.Source, dec.Result = SourceDefault, contracts.ResultConsistent
	}
	if dec.Status != 0 {
		dec.Result = ""
	}
	if p.HasSim {
		dec.Sim, dec.HasSim = p.Sim, true
	}
	return dec
}

package outcome

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// decodeSpec reads a scenario as the admin API does: one JSON object,
// unknown fields refused.
func decodeSpec(b []byte) (ScenarioSpec, error) {
	var spec ScenarioSpec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(&spec)
	return spec, err
}

// FuzzScenarioJSON: whatever the scenario body, decoding and compiling it
// never panics; a compiled scenario has at most MaxMixEntries outcomes and
// faults, every weight finite, above 0 and at most MaxWeight, a fault rate
// within [0, 1], draws whose latency lies
// within [0, the cap] and whose outcome is one of the mix, and it
// re-encodes to JSON that decodes and compiles to the same spec.
func FuzzScenarioJSON(f *testing.F) {
	const maxLatency = 10 * time.Second
	for _, s := range []string{
		`{}`,
		`{"seed":7,"outcomes":[{"weight":1,"result":"0"},{"weight":1,"result":"-1"}]}`,
		`{"outcomes":[{"weight":1e308,"result":"0"},{"weight":1e308,"result":"-1"}]}`,
		`{"outcomes":[{"weight":-1,"result":"0"}]}`,
		`{"outcomes":[{"weight":1,"status":503}]}`,
		`{"outcomes":[{"weight":1,"result":"0","sim":0.9}]}`,
		`{"fault_rate":0.5,"faults":[{"fault":"reset","weight":2},{"fault":"hang","weight":1}]}`,
		`{"fault_rate":1.5}`,
		`{"latency":{"distribution":"fixed","value":"200ms"}}`,
		`{"latency":{"distribution":"uniform","min":10,"max":"1s"}}`,
		`{"latency":{"distribution":"lognormal","median":"50ms","sigma":5,"max":"2s"}}`,
		`{"latency":{"distribution":"lognormal","median":"50ms","sigma":1e308}}`,
		`{"latency":{"distribution":"fixed","value":"-1s"}}`,
		`{"latency":{"distribution":"fixed","value":1e300}}`,
		`{"latency":{"value":"1s"}}`,
		`{"bogus":1}`,
		`{"seed":-1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		spec, err := decodeSpec(b)
		if err != nil {
			return
		}
		sc, err := NewScenario(spec, maxLatency)
		if err != nil {
			return
		}
		if !(spec.FaultRate >= 0 && spec.FaultRate <= 1) {
			t.Fatalf("accepted fault_rate %v", spec.FaultRate)
		}
		if len(spec.Outcomes) > MaxMixEntries || len(spec.Faults) > MaxMixEntries {
			t.Fatalf("accepted a mix of %d outcomes and %d faults", len(spec.Outcomes), len(spec.Faults))
		}
		for _, o := range spec.Outcomes {
			if !validWeight(o.Weight) {
				t.Fatalf("accepted outcome weight %v", o.Weight)
			}
		}
		for _, fw := range spec.Faults {
			if !validWeight(fw.Weight) {
				t.Fatalf("accepted fault weight %v", fw.Weight)
			}
		}
		for i := 0; i < 8; i++ {
			d := sc.Next()
			if d.Latency < 0 || d.Latency > maxLatency {
				t.Fatalf("draw %d: latency %v outside [0, %v]", d.Seq, d.Latency, maxLatency)
			}
			if d.HasOutcome != (len(spec.Outcomes) > 0) {
				t.Fatalf("draw %d: HasOutcome %v with %d outcomes", d.Seq, d.HasOutcome, len(spec.Outcomes))
			}
			if d.HasOutcome {
				found := false
				for _, o := range spec.Outcomes {
					if o.Result == d.Result && o.Status == d.Status {
						found = true
						break
					}
				}
				if !found {
					t.Fatalf("draw %d: outcome %q/%d is not in the mix", d.Seq, d.Result, d.Status)
				}
			}
		}
		out, err := json.Marshal(spec)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := decodeSpec(out)
		if err != nil {
			t.Fatalf("re-encoded scenario %s refused: %v", out, err)
		}
		if _, err := NewScenario(back, maxLatency); err != nil {
			t.Fatalf("re-encoded scenario %s does not compile: %v", out, err)
		}
		if !reflect.DeepEqual(normalised(spec), normalised(back)) {
			t.Fatalf("round trip changed the scenario:\n %+v\n %+v", spec, back)
		}
	})
}

// normalised makes an empty and an absent list compare equal: omitempty
// writes neither.
func normalised(s ScenarioSpec) ScenarioSpec {
	if len(s.Outcomes) == 0 {
		s.Outcomes = nil
	}
	if len(s.Faults) == 0 {
		s.Faults = nil
	}
	return s
}

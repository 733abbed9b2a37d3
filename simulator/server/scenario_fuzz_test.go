package server

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeScenario: whatever the body of PUT /admin/scenarios/{token},
// decodeScenario never panics; a body it accepts is exactly one JSON
// object with nothing after it, whose spec re-encodes to a body it reads
// back to the same spec.
func FuzzDecodeScenario(f *testing.F) {
	for _, s := range []string{
		`{}`, ` {"seed":7} `, `{"seed":1}{"seed":2}`, `{"seed":1} x`, `null`, `[]`, ``,
		`{"seed":1,"seed":2}`, `{"Seed":1}`, `{"latency":{"Distribution":"fixed"}}`,
		`{"outcomes":[{"result":"0","weight":1},{"status":429,"weight":2}],"fault_rate":0.1,"faults":[{"fault":"hang","weight":1}]}`,
		`{"latency":{"distribution":"lognormal","median":"50ms","sigma":1,"max":"2s"}}`,
		`{"outcomes":[{"result":"0","result":"-1","weight":1}]}`, `{"bogus":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		spec, err := decodeScenario(body)
		if err != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		var v map[string]json.RawMessage
		if err := dec.Decode(&v); err != nil || v == nil || dec.More() {
			t.Fatalf("accepted %q, which is not one JSON object", body)
		}
		again, err := json.Marshal(spec)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", spec, err)
		}
		back, err := decodeScenario(again)
		if err != nil {
			t.Fatalf("re-encoded spec %s refused: %v", again, err)
		}
		a, _ := json.Marshal(back)
		if !bytes.Equal(a, again) {
			t.Fatalf("round trip changed the spec: %s then %s", again, a)
		}
	})
}

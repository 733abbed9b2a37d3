package admin

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// FuzzDecodeJSON: whatever the body, DecodeJSON never panics; a body it
// accepts is within MaxJSONBytes and is one valid JSON object whose keys
// are keyRequest's fields, each once and spelt exactly, and the key
// request it yields re-encodes to a body DecodeJSON reads back to the same
// request (when that body is itself within the bound); a body over MaxJSONBytes is always refused.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"id":"k1","rate":5,"burst":10,"daily_quota":1000}`,
		`{"id":"k1"} {"id":"k2"}`,
		`{"id":"k1","extra":1}`,
		`{"id":"a","id":"b"}`,
		`{"ID":"upper"}`,
		`{"rate":1,"Rate":2}`,
		`{"id":"a","daily_quota":1,"daily_quota":2}`,
		`{"rate":1e308,"burst":-1}`,
		`{"daily_quota":9223372036854775808}`,
		`null`,
		`[]`,
		`"x"`,
		`{"id":"\ud800"}`,
		"{\"id\":\"\xff\"}",
		`{"id":` + strings.Repeat("[", 100),
		`{"id":"` + strings.Repeat("a", MaxJSONBytes) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req keyRequest
		err := DecodeJSON(body, &req)
		if len(body) > MaxJSONBytes {
			if err == nil {
				t.Fatalf("accepted a body of %d bytes, over MaxJSONBytes", len(body))
			}
			return
		}
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted a body that is not one JSON value: %q", body)
		}
		seen := map[string]bool{}
		for _, k := range topKeys(t, body) {
			if seen[k] || !slices.Contains(keyFields, k) {
				t.Fatalf("accepted key %q (repeated or not a field as spelt) in %q", k, body)
			}
			seen[k] = true
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", req, err)
		}
		if len(again) > MaxJSONBytes {
			// Re-encoding adds the fields the body left out; a body that
			// was near the bound can outgrow it.
			return
		}
		var back keyRequest
		if err := DecodeJSON(again, &back); err != nil {
			t.Fatalf("re-encoded request %s refused: %v", again, err)
		}
		if back != req {
			t.Fatalf("round trip changed the request: %+v then %+v", req, back)
		}
	})
}

var keyFields = []string{"id", "rate", "burst", "daily_quota"}

// topKeys lists the keys of the JSON object body, in order, repeats
// included.
func topKeys(t *testing.T, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("accepted %q, which is not an object", body)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

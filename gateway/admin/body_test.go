package admin

import (
	"strings"
	"testing"

	"github.com/idgate/idgate/gateway/reconcile"
)

// TestDecodeJSON: an admin JSON body is one object of known fields, each
// once and spelt exactly, within MaxJSONBytes; anything else is refused
// before it is acted on.
func TestDecodeJSON(t *testing.T) {
	pad := strings.Repeat(" ", MaxJSONBytes)
	for _, tc := range []struct {
		name string
		body string
		ok   bool
	}{
		{"known fields", `{"id":"acme-2","rate":1,"burst":2,"daily_quota":3}`, true},
		{"empty object", `{}`, true},
		{"trailing space", `{"id":"a"}` + " \n", true},
		{"unknown field", `{"id":"a","quota":5}`, false},
		{"repeated field", `{"id":"a","id":"b"}`, false},
		{"repeated limit", `{"rate":1,"rate":1e6}`, false},
		{"field in another case", `{"ID":"a"}`, false},
		{"limit in another case", `{"Daily_Quota":5}`, false},
		{"two values", `{"id":"a"}{"id":"b"}`, false},
		{"trailing garbage", `{"id":"a"} x`, false},
		{"wrong type", `{"rate":"fast"}`, false},
		{"not JSON", `id=a`, false},
		{"null", `null`, false},
		{"array", `[]`, false},
		{"over the bound", `{"id":"a"}` + pad, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req keyRequest
			err := DecodeJSON([]byte(tc.body), &req)
			if (err == nil) != tc.ok {
				t.Fatalf("DecodeJSON(%.40q) = %v, want ok=%v", tc.body, err, tc.ok)
			}
		})
	}
}

// TestBodyBounds: the listener admits the largest route's body and no
// more than the statement parser reads.
func TestBodyBounds(t *testing.T) {
	if MaxJSONBytes > BodyLimit || MaxStatementBytes > BodyLimit {
		t.Errorf("BodyLimit %d is below a route's bound", BodyLimit)
	}
	if MaxStatementBytes > reconcile.MaxStatementBytes {
		t.Errorf("MaxStatementBytes %d exceeds the parser's %d", MaxStatementBytes, reconcile.MaxStatementBytes)
	}
}

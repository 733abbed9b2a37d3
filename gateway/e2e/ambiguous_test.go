package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/internal/testkit"
)

// rawRequest writes a request byte for byte (net/http folds repeated
// headers) and reads the answer, which must be the contract's error body.
func rawRequest(t *testing.T, url, method, headers, body string) (int, http.Header, contracts.ErrorBody) {
	t.Helper()
	status, h, b := testkit.RawCheck(t, url, method, headers, body)
	var e contracts.ErrorBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Errorf("%s: answer %d %q is not the contract's error body", method, status, b)
	}
	return status, h, e
}

// TestAmbiguousRequestsNeverForwarded: a request two parsers could read
// differently (repeated keys or headers, field names in another case), a
// compressed body and an unknown method are refused by the gateway with
// the contract's error body: never forwarded, never billed.
func TestAmbiguousRequestsNeverForwarded(t *testing.T) {
	s := startSim(t)
	g := startGateway(t, s.URL, 1000, "acme-key")
	const auth, bad = "Authorization: Bearer acme-key\r\n", "Authorization: Bearer wrong\r\n"
	const ct = "Content-Type: application/json\r\n"
	valid := checkBody(people[0].name, people[0].id)
	before := counts(t, s).Requests
	for _, tc := range []struct {
		name, method, headers, body string
		status                      int
		code                        contracts.ErrorCode
		message                     string // "": any
	}{
		{"repeated key", "POST", auth + ct, `{"name":"a","name":"王小明","id_card":"11010519491231002X"}`, 400, contracts.ErrTokenMismatched, "duplicate field name: each field may appear once"},
		{"repeated key in encryption", "POST", auth + ct, `{"name":"王小明","id_card":"11010519491231002X","encryption":{"iv":"AA==","iv":"AA=="}}`, 400, contracts.ErrTokenMismatched, "duplicate field encryption.iv: each field may appear once"},
		{"upper-case names", "POST", auth + ct, `{"NAME":"王小明","ID_CARD":"11010519491231002X"}`, 400, contracts.ErrTokenMismatched, `unknown field "NAME": field names are case-sensitive (name)`},
		{"name in another case", "POST", auth + ct, `{"id_card":"110105194912310021","Id_Card":"11010519491231002X","name":"王小明"}`, 400, contracts.ErrTokenMismatched, `unknown field "Id_Card": field names are case-sensitive (id_card)`},
		{"valid then invalid Authorization", "POST", auth + bad + ct, valid, 400, contracts.ErrTokenMismatched, "duplicate Authorization header: send it once"},
		{"two Content-Type", "POST", auth + ct + "Content-Type: text/plain\r\n", valid, 400, contracts.ErrTokenMismatched, "duplicate Content-Type header: send it once"},
		{"two Idempotency-Key", "POST", auth + ct + "Idempotency-Key: a\r\nIdempotency-Key: b\r\n", valid, 400, contracts.ErrTokenMismatched, "duplicate Idempotency-Key header: send it once"},
		{"two Content-Encoding", "POST", auth + ct + "Content-Encoding: identity\r\nContent-Encoding: gzip\r\n", valid, 400, contracts.ErrTokenMismatched, "duplicate Content-Encoding header: send it once"},
		{"two Prefer", "POST", auth + ct + "Prefer: result=0\r\nPrefer: result=-1\r\n", valid, 400, contracts.ErrTokenMismatched, "duplicate Prefer header: send it once"},
		{"gzip body", "POST", auth + ct + "Content-Encoding: gzip\r\n", valid, 400, contracts.ErrTokenMismatched, "content encoding gzip is not supported; send the JSON body uncompressed"},
		{"unknown method", "FOO", auth + ct, valid, 400, contracts.ErrAPINotImplemented, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, h, e := rawRequest(t, g.URL, tc.method, tc.headers, tc.body)
			if st != tc.status || e.Error.Code != tc.code || (tc.message != "" && e.Error.Message != tc.message) {
				t.Errorf("%d %+v, want %d %s %q", st, e, tc.status, tc.code, tc.message)
			}
			if id := h.Get("X-Request-Id"); id == "" || e.TraceID != id {
				t.Errorf("X-Request-Id %q, trace_id %q", id, e.TraceID)
			}
		})
	}
	if after := counts(t, s).Requests; after != before {
		t.Errorf("the simulator answered %d requests, want none", after-before)
	}
	// The same client's unambiguous request still goes through.
	if a := testkit.Check(t, g.URL, "acme-key", valid); a.Status != 200 {
		t.Fatalf("valid request: %d %s", a.Status, a.Body)
	}
	g.Terminate(t)
	if n := ledgerCount(t, g.store, ledger.Filter{}, true); n != 1 {
		t.Errorf("ledger has %d billed entries, want only the valid request's", n)
	}
}

package sessions

import (
	"encoding/json"
	"testing"

	"github.com/idgate/idgate/contracts"
)

// FuzzCreateBody: whatever the body of a session creation, the gateway
// never answers 5xx while the upstream works; a body that is neither empty
// nor one JSON object under the contract's key rules (no repeated key, no
// field name in another case: contracts.DecodeObject) is refused with 400
// token_mismatched and never reaches the upstream; every refusal is the
// contract's error body.
func FuzzCreateBody(f *testing.F) {
	for _, s := range []string{
		``,
		`   `,
		`{}`,
		`{"flow":"nfc","reference":"r-1"}`,
		`{"callback_url":"https://hooks.example.com/x"}`,
		`{"callback_url":"http://127.0.0.1/x"}`,
		`{"callback_url":"javascript:alert(1)"}`,
		`{"id_card":"11010519491231002X","name":"张三"}`,
		`{"flow":1}`,
		`[]`,
		`null`,
		`{`,
		`{"a":1} {"b":2}`,
		"{\"reference\":\"\xff\"}",
		`{"id_card":"110101191111110010","id_card":"11010519491231002X"}`,
		`{"ID_CARD":"11010519491231002X"}`,
		`{"x":{"a":1,"a":2}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fx := newFixture(t, 0, "")
		fx.up.set("POST "+contracts.SessionsPath, 201, sessionJSON("a", contracts.StateCreated, 1, 0))
		st, b := fx.do(t, "POST", contracts.SessionsPath, "acme-key", string(body))
		if st >= 500 {
			t.Fatalf("body %q answered %d: %s", body, st, b)
		}
		fx.up.mu.Lock()
		forwarded := fx.up.calls["POST "+contracts.SessionsPath]
		fx.up.mu.Unlock()
		var req contracts.CreateSessionRequest
		if err := contracts.DecodeObject(body, &contracts.CreateSessionSchema, &req); err != nil {
			if st != 400 || forwarded != 0 {
				t.Fatalf("refused body %q (%v) answered %d, forwarded %d times", body, err, st, forwarded)
			}
		}
		if st >= 400 {
			var e struct {
				Error struct {
					Code contracts.ErrorCode `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(b), &e); err != nil || e.Error.Code == "" {
				t.Fatalf("refusal %d of %q is not the error body: %s", st, body, b)
			}
			if st == 400 && e.Error.Code != contracts.ErrTokenMismatched {
				t.Fatalf("400 for %q with code %s", body, e.Error.Code)
			}
		}
	})
}

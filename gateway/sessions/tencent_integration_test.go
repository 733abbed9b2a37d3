package sessions_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/internal/testkit"
)

// FaceID's session actions through the real gateway and simulator: signed
// as the Node SDK signs, the phone played against the simulator, the
// result read until the flow finishes, billed once.
func TestTencentSessionsThroughTheStack(t *testing.T) {
	s := newStack(t, 0)
	signer := &tencent.Signer{SecretID: "acme-sid", SecretKey: "acme-skey", Service: "127"}
	cases := []struct {
		name, create, body, token, read, readBody string
		phone                                     func(t *testing.T, id string)
		check                                     func(t *testing.T, r map[string]any)
	}{
		{"DetectAuth", tencent.ActionDetectAuth, `{"RuleId":"1","Extra":"order-7"}`, "BizToken",
			tencent.ActionGetDetectInfoEnhanced, `{"BizToken":"%s","RuleId":"1"}`,
			func(t *testing.T, id string) { walk(t, s.sim, id) },
			func(t *testing.T, r map[string]any) {
				text, _ := r["Text"].(map[string]any)
				// Extra is the result's reference, which the simulator echoes
				// from its Tencent dialect's version on (unit-tested here).
				if text == nil || text["ErrCode"] != float64(0) || text["IdInfoFrom"] != "NFC" || text["OcrIdCard"] == "" {
					t.Fatalf("text %v", r["Text"])
				}
			}},
		{"GetEidToken", tencent.ActionGetEidToken, `{"MerchantId":"m"}`, "EidToken",
			tencent.ActionGetEidResult, `{"EidToken":"%s"}`,
			func(t *testing.T, id string) {
				for _, p := range []struct {
					path string
					body any
				}{{"/phone/open", map[string]any{"request_id": id}}, {"/phone/sessions/" + id + "/authorize", nil}} {
					if a := call(t, "POST", s.sim+p.path, "", p.body); a.status != http.StatusOK {
						t.Fatalf("phone %s: %d %s", p.path, a.status, a.body)
					}
				}
			},
			func(t *testing.T, r map[string]any) {
				text, _ := r["Text"].(map[string]any)
				if text == nil || text["ErrCode"] != float64(0) || text["IdCard"] != "" {
					t.Fatalf("text %v", r["Text"])
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tcPost(t, s.gw, signer, tc.create, tc.body)
			id, _ := r[tc.token].(string)
			if id == "" {
				t.Fatalf("%s: %v", tc.create, r)
			}
			readBody := strings.Replace(tc.readBody, "%s", id, 1)
			if r := tcPost(t, s.gw, signer, tc.read, readBody); !strings.Contains(mustJSON(r["Text"]), `"ErrCode":17`) {
				t.Fatalf("before the phone: %v", r)
			}
			tc.phone(t, id)
			deadline := time.Now().Add(10 * time.Second)
			for {
				r = tcPost(t, s.gw, signer, tc.read, readBody)
				if !strings.Contains(mustJSON(r["Text"]), `"ErrCode":17`) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("flow never finished: %v", r)
				}
				time.Sleep(50 * time.Millisecond)
			}
			for range 3 {
				tc.check(t, tcPost(t, s.gw, signer, tc.read, readBody))
			}
			if b, ub := billingRows(s.ledger(t, "acme"), id); b != 1 || ub != 0 {
				t.Fatalf("outcome entries: %d billed, %d unbilled", b, ub)
			}
		})
	}
	if q := s.quota(t, "acme"); q.Used != 2 || q.Reserved != 0 {
		t.Fatalf("quota %+v", q)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// tcPost signs and posts one action as the Node SDK does (host without
// port) and returns its Response, failing t on an Error.
func tcPost(t *testing.T, base string, s *tencent.Signer, action, body string) map[string]any {
	t.Helper()
	r, _ := testkit.TencentCall(t, base, s, action, body)
	if e, ok := r["Error"]; ok {
		t.Fatalf("%s: %v", action, e)
	}
	return r
}

package session

import (
	"sync"
	"testing"

	"github.com/idgate/idgate/contracts"
)

// Every session that ends is reported once, with the billing its result
// shows, the create request's client id and the tenant key (never the
// token).
func TestOnEndReportsEachEndOnceAsResultBills(t *testing.T) {
	liveAndReview := func(final contracts.SessionState, code contracts.SessionCode) []step {
		return cat(happyUntilConfirm(), []step{
			{op: "liveness", want: contracts.StateUnderReview},
			{op: "review", want: final, wantCode: code}})
	}
	cases := []struct {
		name   string
		flow   contracts.SessionFlow
		req    contracts.CreateSessionRequest
		prefer string
		steps  []step
		code   contracts.SessionCode
		billed bool
	}{
		{"approved", contracts.FlowNFC, contracts.CreateSessionRequest{}, "", liveAndReview(contracts.StateApproved, 0), 0, true},
		{"rejected 2006", contracts.FlowNFC, contracts.CreateSessionRequest{}, "review=rejected", liveAndReview(contracts.StateRejected, contracts.CodeNameIDMismatch), contracts.CodeNameIDMismatch, true},
		{"rejected 2005", contracts.FlowNFC, contracts.CreateSessionRequest{Name: contracts.SessionMagics[3].Name, IDCard: contracts.SessionMagics[3].IDCard}, "",
			liveAndReview(contracts.StateRejected, contracts.CodeNoRecord), contracts.CodeNoRecord, false},
		{"failed nfc", contracts.FlowNFC, contracts.CreateSessionRequest{}, "", []step{{op: "open", want: contracts.StateScanned},
			{op: "nfc", prefer: "nfc=66664024", want: contracts.StateFailed, wantCode: contracts.CodeNFCWrongCard}}, contracts.CodeNFCWrongCard, false},
		{"app authorized", contracts.FlowAppAuth, contracts.CreateSessionRequest{}, "", []step{{op: "open", want: contracts.StateScanned},
			{op: "authorize", want: contracts.StateApproved}}, 0, true},
		{"app not verified", contracts.FlowAppAuth, contracts.CreateSessionRequest{}, "", []step{{op: "open", want: contracts.StateScanned},
			{op: "authorize", prefer: "app_auth=7001", want: contracts.StateFailed, wantCode: contracts.CodeAppNotVerified}}, contracts.CodeAppNotVerified, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, clk := newSvc(t, nil)
			var mu sync.Mutex
			var ends []End
			s.OnEnd(func(e End) {
				mu.Lock()
				ends = append(ends, e)
				mu.Unlock()
			})
			tc.req.Flow = tc.flow
			sess, err := s.CreateAs(tok, "", "client-rid-1", tc.req, tc.prefer, "http://sim.test")
			if err != nil {
				t.Fatal(err)
			}
			run(t, s, clk, sess.RequestID, tc.steps)
			s.PhoneStatus(sess.RequestID) // another look must not report it again
			r, err := s.Result(tok, sess.RequestID)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(ends) != 1 {
				t.Fatalf("%d ends reported: %+v", len(ends), ends)
			}
			e := ends[0]
			if e.RequestID != sess.RequestID || e.ClientRequestID != "client-rid-1" || e.Tenant != tenantKey(tok) ||
				e.Code != tc.code || e.Billed != tc.billed || e.State != r.State || e.Code != r.Code ||
				e.Billed != (r.Billing == contracts.Billed) || !e.At.Equal(r.CompletedAt) {
				t.Errorf("end %+v, result %+v", e, r)
			}
		})
	}
}

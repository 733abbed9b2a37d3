package session

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idgate/idgate/contracts"
)

// stubQR stands in for the QR renderer where the image does not matter:
// the real one costs milliseconds, many times that under -race.
func stubQR(string) ([]byte, error) { return placeholderPhoto, nil }

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

const tok = "tenant-token"

func newSvc(t *testing.T, mut func(*Config)) (*Service, *FakeClock) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Seed = 42
	if mut != nil {
		mut(&cfg)
	}
	clk := NewFakeClock(t0)
	s, err := New(cfg, nil, WithClock(clk), WithQRRenderer(stubQR))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, clk
}

// step is one phone action; want* describe its answer.
type step struct {
	op       string // open, open_id, deny, nfc, confirm, liveness, authorize, review
	prefer   string
	device   Device
	wantErr  contracts.ErrorCode
	want     contracts.SessionState
	wantCode contracts.SessionCode // of Error after the step, 0 = none
}

var (
	android = Device{Platform: "android", Model: "Xiaomi 14", OSVersion: "14"}
	iphone  = Device{Platform: "ios", Model: "iPhone 15", OSVersion: "17.2"}
)

func run(t *testing.T, s *Service, clk *FakeClock, id string, steps []step) PhoneView {
	t.Helper()
	var v PhoneView
	for i, st := range steps {
		var err error
		switch st.op {
		case "open":
			x, _ := s.lookup("", id)
			v, err = s.Open(OpenRequest{QRToken: x.qrToken})
		case "open_id":
			v, err = s.Open(OpenRequest{RequestID: id})
		case "deny":
			no := false
			v, err = s.Open(OpenRequest{RequestID: id, PermissionGranted: &no})
		case "nfc":
			d := st.device
			if d == (Device{}) {
				d = android
			}
			v, err = s.ReadCard(id, d, st.prefer)
		case "confirm":
			v, err = s.Confirm(id)
		case "liveness":
			v, err = s.Liveness(id, LivenessRequest{}, st.prefer)
		case "authorize":
			v, err = s.Authorize(id, st.prefer)
		case "review":
			clk.Advance(s.cfg.ReviewDelay)
			v, err = s.PhoneStatus(id)
		default:
			t.Fatalf("unknown op %s", st.op)
		}
		var e *Error
		if st.wantErr != "" {
			if !errors.As(err, &e) || e.Code != st.wantErr {
				t.Fatalf("step %d %s: err = %v, want %s", i, st.op, err, st.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d %s: %v", i, st.op, err)
		}
		if v.State != st.want {
			t.Fatalf("step %d %s: state %s, want %s (error %+v)", i, st.op, v.State, st.want, v.Error)
		}
		got := contracts.SessionCode(0)
		if v.Error != nil {
			got = v.Error.Code
		}
		if got != st.wantCode {
			t.Fatalf("step %d %s: code %d, want %d", i, st.op, got, st.wantCode)
		}
	}
	return v
}

func happyUntilConfirm() []step {
	return []step{
		{op: "open", want: contracts.StateScanned},
		{op: "nfc", want: contracts.StateCardRead},
		{op: "confirm", want: contracts.StateConfirmed},
	}
}

func cat(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestNFCFlow(t *testing.T) {
	magic := func(i int) contracts.CreateSessionRequest {
		m := contracts.SessionMagics[i]
		return contracts.CreateSessionRequest{Name: m.Name, IDCard: m.IDCard}
	}
	retry3 := func(op, prefer string, code contracts.SessionCode, at contracts.SessionState) []step {
		return []step{
			{op: op, prefer: prefer, want: at, wantCode: code},
			{op: op, prefer: prefer, want: at, wantCode: code},
			{op: op, prefer: prefer, want: contracts.StateFailed, wantCode: contracts.CodeRetryLimit},
		}
	}
	type tc struct {
		name       string
		req        contracts.CreateSessionRequest
		prefer     string
		steps      []step
		wantFinal  contracts.SessionState
		wantCode   contracts.SessionCode
		wantBilled contracts.Billing
	}
	tests := []tc{
		{name: "approved", steps: cat(happyUntilConfirm(), []step{
			{op: "liveness", want: contracts.StateUnderReview},
			{op: "review", want: contracts.StateApproved}}),
			wantFinal: contracts.StateApproved, wantBilled: contracts.Billed},
		{name: "approved by typed request ID on iPhone", steps: []step{
			{op: "open_id", want: contracts.StateScanned},
			{op: "nfc", device: iphone, want: contracts.StateCardRead},
			{op: "confirm", want: contracts.StateConfirmed},
			{op: "liveness", want: contracts.StateUnderReview},
			{op: "review", want: contracts.StateApproved}},
			wantFinal: contracts.StateApproved, wantBilled: contracts.Billed},
		{name: "expected identity approved", req: contracts.CreateSessionRequest{Name: "张三", IDCard: "11010519491231002X"},
			steps:     cat(happyUntilConfirm(), []step{{op: "liveness", want: contracts.StateUnderReview}, {op: "review", want: contracts.StateApproved}}),
			wantFinal: contracts.StateApproved, wantBilled: contracts.Billed},
		{name: "permission refused", steps: []step{{op: "deny", want: contracts.StateFailed, wantCode: contracts.CodeNFCUserQuit}},
			wantFinal: contracts.StateFailed, wantCode: contracts.CodeNFCUserQuit, wantBilled: contracts.NotBilled},
		{name: "google pixel refused", steps: []step{{op: "open", want: contracts.StateScanned},
			{op: "nfc", device: Device{Platform: "android", Model: "Google Pixel 8", OSVersion: "14"}, want: contracts.StateFailed, wantCode: contracts.CodeNFCUnsupported}},
			wantFinal: contracts.StateFailed, wantCode: contracts.CodeNFCUnsupported, wantBilled: contracts.NotBilled},
		{name: "iOS 15 refused", steps: []step{{op: "open", want: contracts.StateScanned},
			{op: "nfc", device: Device{Platform: "ios", Model: "iPhone 12", OSVersion: "15.7"}, want: contracts.StateFailed, wantCode: contracts.CodeNFCUnsupported}},
			wantFinal: contracts.StateFailed, wantCode: contracts.CodeNFCUnsupported, wantBilled: contracts.NotBilled},
		{name: "unknown platform is a bad parameter", steps: []step{{op: "open", want: contracts.StateScanned},
			{op: "nfc", device: Device{Platform: "symbian"}, want: contracts.StateFailed, wantCode: contracts.CodeNFCBadParams}},
			wantFinal: contracts.StateFailed, wantCode: contracts.CodeNFCBadParams, wantBilled: contracts.NotBilled},
		{name: "retryable read fails once then succeeds", steps: cat([]step{{op: "open", want: contracts.StateScanned},
			{op: "nfc", prefer: "nfc=66664020", want: contracts.StateScanned, wantCode: contracts.CodeNFCCardMoved},
			{op: "nfc", want: contracts.StateCardRead}})},
		{name: "card of another person (301)", req: contracts.CreateSessionRequest{Name: "张三", IDCard: "11010519491231002X"},
			steps:     []step{{op: "open", want: contracts.StateScanned}, {op: "nfc", prefer: "nfc=301", want: contracts.StateFailed, wantCode: contracts.CodeCardMismatch}},
			wantFinal: contracts.StateFailed, wantCode: contracts.CodeCardMismatch, wantBilled: contracts.NotBilled},
		{name: "magic 301", req: magic(4), steps: []step{{op: "open", want: contracts.StateScanned}, {op: "nfc", want: contracts.StateFailed, wantCode: contracts.CodeCardMismatch}},
			wantFinal: contracts.StateFailed, wantCode: contracts.CodeCardMismatch, wantBilled: contracts.NotBilled},
		{name: "magic 302 expired card", req: magic(5), steps: []step{{op: "open", want: contracts.StateScanned}, {op: "nfc", want: contracts.StateFailed, wantCode: contracts.CodeCardExpired}},
			wantFinal: contracts.StateFailed, wantCode: contracts.CodeCardExpired, wantBilled: contracts.NotBilled},
		{name: "magic wrong card type", req: magic(6), steps: []step{{op: "open", want: contracts.StateScanned}, {op: "nfc", want: contracts.StateFailed, wantCode: contracts.CodeNFCWrongCard}},
			wantFinal: contracts.StateFailed, wantCode: contracts.CodeNFCWrongCard, wantBilled: contracts.NotBilled},
		{name: "magic timeout until retry limit", req: magic(7), steps: cat([]step{{op: "open", want: contracts.StateScanned}},
			retry3("nfc", "", contracts.CodeNFCTimeout, contracts.StateScanned)),
			wantFinal: contracts.StateFailed, wantCode: contracts.CodeRetryLimit, wantBilled: contracts.NotBilled},
		{name: "magic liveness fake until retry limit", req: magic(8), steps: cat(happyUntilConfirm(),
			retry3("liveness", "", contracts.CodeLivenessFake, contracts.StateConfirmed)),
			wantFinal: contracts.StateFailed, wantCode: contracts.CodeRetryLimit, wantBilled: contracts.NotBilled},
		{name: "liveness similarity below 70", steps: cat(happyUntilConfirm(),
			retry3("liveness", "similarity=65", contracts.CodeLivenessSimLow, contracts.StateConfirmed)),
			wantFinal: contracts.StateFailed, wantCode: contracts.CodeRetryLimit, wantBilled: contracts.NotBilled},
		{name: "liveness fails then passes", steps: cat(happyUntilConfirm(), []step{
			{op: "liveness", prefer: "liveness=1004", want: contracts.StateConfirmed, wantCode: contracts.CodeLivenessFaces},
			{op: "liveness", want: contracts.StateUnderReview},
			{op: "review", want: contracts.StateApproved}}),
			wantFinal: contracts.StateApproved, wantBilled: contracts.Billed},
		{name: "review rejected via create Prefer", prefer: "review=rejected", steps: cat(happyUntilConfirm(), []step{
			{op: "liveness", want: contracts.StateUnderReview},
			{op: "review", want: contracts.StateRejected, wantCode: contracts.CodeNameIDMismatch}}),
			wantFinal: contracts.StateRejected, wantCode: contracts.CodeNameIDMismatch, wantBilled: contracts.Billed},
		{name: "magic review 2016 billed", req: magic(2), steps: cat(happyUntilConfirm(), []step{
			{op: "liveness", want: contracts.StateUnderReview},
			{op: "review", want: contracts.StateRejected, wantCode: contracts.CodeSimilarityLow}}),
			wantFinal: contracts.StateRejected, wantCode: contracts.CodeSimilarityLow, wantBilled: contracts.Billed},
		{name: "magic review 2005 not billed", req: magic(3), steps: cat(happyUntilConfirm(), []step{
			{op: "liveness", want: contracts.StateUnderReview},
			{op: "review", want: contracts.StateRejected, wantCode: contracts.CodeNoRecord}}),
			wantFinal: contracts.StateRejected, wantCode: contracts.CodeNoRecord, wantBilled: contracts.NotBilled},
		{name: "step Prefer overrides magic", req: magic(1), steps: cat(happyUntilConfirm(), []step{
			{op: "liveness", prefer: "review=approved", want: contracts.StateUnderReview},
			{op: "review", want: contracts.StateApproved}}),
			wantFinal: contracts.StateApproved, wantBilled: contracts.Billed},
	}
	// Every NFC failure code, through the Prefer header.
	for _, c := range contracts.SessionCodes {
		if c.Stage != contracts.StageNFC || c.Code == contracts.CodeCardMismatch || c.Code == contracts.CodeCardExpired {
			continue
		}
		p := fmt.Sprintf("nfc=%d", c.Code)
		if c.Retryable {
			tests = append(tests, tc{name: p, steps: cat([]step{{op: "open", want: contracts.StateScanned}}, retry3("nfc", p, c.Code, contracts.StateScanned)),
				wantFinal: contracts.StateFailed, wantCode: contracts.CodeRetryLimit, wantBilled: contracts.NotBilled})
		} else {
			tests = append(tests, tc{name: p, steps: []step{{op: "open", want: contracts.StateScanned}, {op: "nfc", prefer: p, want: contracts.StateFailed, wantCode: c.Code}},
				wantFinal: contracts.StateFailed, wantCode: c.Code, wantBilled: contracts.NotBilled})
		}
	}
	for _, c := range contracts.SessionCodes {
		if c.Stage != contracts.StageLiveness {
			continue
		}
		p := fmt.Sprintf("liveness=%d", c.Code)
		tests = append(tests, tc{name: p, steps: cat(happyUntilConfirm(), retry3("liveness", p, c.Code, contracts.StateConfirmed)),
			wantFinal: contracts.StateFailed, wantCode: contracts.CodeRetryLimit, wantBilled: contracts.NotBilled})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newSvc(t, nil)
			sess, err := s.Create(tok, tt.req, tt.prefer, "http://sim.test")
			if err != nil {
				t.Fatal(err)
			}
			if sess.State != contracts.StateCreated || sess.QRPNG == "" || sess.ExpiresAt != t0.Add(10*time.Minute) {
				t.Fatalf("created: %+v", sess)
			}
			run(t, s, clk, sess.RequestID, tt.steps)
			if tt.wantFinal == "" {
				return
			}
			r, err := s.Result(tok, sess.RequestID)
			if err != nil {
				t.Fatal(err)
			}
			if r.Decision != tt.wantFinal || r.Code != tt.wantCode || r.Billing != tt.wantBilled {
				t.Fatalf("result %s/%d/%s, want %s/%d/%s", r.Decision, r.Code, r.Billing, tt.wantFinal, tt.wantCode, tt.wantBilled)
			}
			if tt.wantFinal == contracts.StateApproved {
				if r.Card == nil || r.Card.PhotoPNG == "" || r.Liveness == nil || !r.Liveness.Passed || r.FaceSimilarity == nil || *r.FaceSimilarity < contracts.FaceThreshold {
					t.Fatalf("approved result incomplete: %+v", r)
				}
				if tt.req.IDCard != "" && (r.Card.IDCard != tt.req.IDCard || r.Card.Name != tt.req.Name) {
					t.Fatalf("card %s %s, want the expected identity", r.Card.Name, r.Card.IDCard)
				}
			}
			// Every wrong move after the end: a replay is refused with 14.
			for _, op := range []string{"open_id", "nfc", "confirm", "liveness"} {
				run(t, s, clk, sess.RequestID, []step{{op: op, wantErr: contracts.ErrSessionCompleted}})
			}
		})
	}
}

func TestAppAuthFlow(t *testing.T) {
	tests := []struct {
		name     string
		req      contracts.CreateSessionRequest
		prefer   string
		want     contracts.SessionState
		wantCode contracts.SessionCode
	}{
		{"authorized", contracts.CreateSessionRequest{}, "", contracts.StateApproved, 0},
		{"not verified", contracts.CreateSessionRequest{}, "app_auth=not_verified", contracts.StateFailed, contracts.CodeAppNotVerified},
		{"verified other", contracts.CreateSessionRequest{}, "app_auth=verified_other", contracts.StateFailed, contracts.CodeAppVerifiedOther},
		{"magic not verified", contracts.CreateSessionRequest{Name: contracts.SessionMagics[10].Name, IDCard: contracts.SessionMagics[10].IDCard}, "", contracts.StateFailed, contracts.CodeAppNotVerified},
		{"magic verified other", contracts.CreateSessionRequest{Name: contracts.SessionMagics[11].Name, IDCard: contracts.SessionMagics[11].IDCard}, "", contracts.StateFailed, contracts.CodeAppVerifiedOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newSvc(t, nil)
			tt.req.Flow = contracts.FlowAppAuth
			sess, err := s.Create(tok, tt.req, "", "http://sim.test")
			if err != nil {
				t.Fatal(err)
			}
			run(t, s, clk, sess.RequestID, []step{
				{op: "nfc", wantErr: contracts.ErrStepOutOfOrder}, // not scanned, and the wrong flow
				{op: "open", want: contracts.StateScanned},
				{op: "nfc", wantErr: contracts.ErrStepOutOfOrder},
				{op: "authorize", prefer: tt.prefer, want: tt.want, wantCode: tt.wantCode},
				{op: "authorize", wantErr: contracts.ErrSessionCompleted},
			})
			r, err := s.Result(tok, sess.RequestID)
			if err != nil {
				t.Fatal(err)
			}
			if r.Decision != tt.want || r.Code != tt.wantCode || (tt.want == contracts.StateApproved) != (r.Card != nil) {
				t.Fatalf("result %+v", r)
			}
		})
	}
}

func TestWrongMoves(t *testing.T) {
	s, clk := newSvc(t, nil)
	mk := func() string {
		sess, err := s.Create(tok, contracts.CreateSessionRequest{}, "", "http://sim.test")
		if err != nil {
			t.Fatal(err)
		}
		return sess.RequestID
	}
	id := mk()
	run(t, s, clk, id, []step{
		{op: "confirm", wantErr: contracts.ErrStepOutOfOrder},
		{op: "nfc", wantErr: contracts.ErrStepOutOfOrder},
		{op: "liveness", wantErr: contracts.ErrStepOutOfOrder},
		{op: "authorize", wantErr: contracts.ErrStepOutOfOrder},
		{op: "open", want: contracts.StateScanned},
		{op: "open", wantErr: contracts.ErrQRAlreadyUsed},
		{op: "open_id", wantErr: contracts.ErrQRAlreadyUsed},
		{op: "liveness", wantErr: contracts.ErrStepOutOfOrder},
	})
	if _, err := s.Result(tok, id); !isCode(err, contracts.ErrFlowNotFinished) {
		t.Errorf("early result: %v", err)
	}
	if _, err := s.Status("other-tenant", id); !isCode(err, contracts.ErrSessionNotFound) {
		t.Errorf("other tenant: %v", err)
	}
	if _, err := s.PhoneStatus("no-such-id"); !isCode(err, contracts.ErrSessionNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := s.Open(OpenRequest{QRToken: "nope"}); !isCode(err, contracts.ErrSessionNotFound) {
		t.Errorf("unknown QR: %v", err)
	}
	if _, err := s.Open(OpenRequest{}); !isCode(err, contracts.ErrTokenMismatched) {
		t.Errorf("empty open: %v", err)
	}
	if _, err := s.Regenerate(tok, id); !isCode(err, contracts.ErrStepOutOfOrder) {
		t.Errorf("regenerate live session: %v", err)
	}
	if _, err := s.ReadCard(id, android, "nfc=12345"); !isCode(err, contracts.ErrTokenMismatched) {
		t.Errorf("bad Prefer: %v", err)
	}
	for _, bad := range []contracts.CreateSessionRequest{
		{Flow: "fax"}, {Name: "张三"}, {Name: "张三", IDCard: "110105194912310021"},
		{Name: "Zhang", IDCard: "11010519491231002X"}, {CallbackURL: "ftp://x"}, {CallbackURL: "/relative"},
	} {
		if _, err := s.Create(tok, bad, "", "http://sim.test"); !isCode(err, contracts.ErrTokenMismatched) {
			t.Errorf("create %+v: %v", bad, err)
		}
	}
	if _, err := s.Create(tok, contracts.CreateSessionRequest{}, "liveness=9999", ""); !isCode(err, contracts.ErrTokenMismatched) {
		t.Errorf("create with bad Prefer: %v", err)
	}
}

func isCode(err error, c contracts.ErrorCode) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == c
}

func TestExpiryRegenerateAndSweep(t *testing.T) {
	s, clk := newSvc(t, nil)
	sess, _ := s.Create(tok, contracts.CreateSessionRequest{}, "", "http://sim.test")
	id := sess.RequestID
	oldQR, _ := s.lookup("", id)
	oldToken := oldQR.qrToken
	run(t, s, clk, id, []step{{op: "open", want: contracts.StateScanned}})
	clk.Advance(10*time.Minute - time.Second)
	if exp, _ := s.Sweep(); exp != 0 {
		t.Fatalf("expired %d sessions a second early", exp)
	}
	clk.Advance(time.Second)
	if exp, rem := s.Sweep(); exp != 1 || rem != 0 {
		t.Fatalf("sweep = %d expired, %d removed; want 1, 0", exp, rem)
	}
	st, _ := s.Status(tok, id)
	if st.State != contracts.StateExpired || st.Error == nil || st.Error.Code != contracts.CodeTokenExpired {
		t.Fatalf("after TTL: %+v", st)
	}
	run(t, s, clk, id, []step{{op: "nfc", wantErr: contracts.ErrSessionExpired}})
	if _, err := s.QR(tok, id); !isCode(err, contracts.ErrSessionExpired) {
		t.Fatalf("QR of expired session: %v", err)
	}
	if _, err := s.Result(tok, id); !isCode(err, contracts.ErrSessionExpired) {
		t.Fatalf("result of expired session: %v", err)
	}
	re, err := s.Regenerate(tok, id)
	if err != nil {
		t.Fatal(err)
	}
	if re.State != contracts.StateCreated || re.QRPNG == "" || re.ExpiresAt != clk.Now().Add(10*time.Minute) || re.QRURL == sess.QRURL {
		t.Fatalf("regenerated: %+v", re)
	}
	if _, err := s.Open(OpenRequest{QRToken: oldToken}); !isCode(err, contracts.ErrSessionNotFound) {
		t.Fatalf("old QR after regenerate: %v", err)
	}
	run(t, s, clk, id, cat(happyUntilConfirm(), []step{{op: "liveness", want: contracts.StateUnderReview}}))
	// Review is not subject to the QR deadline.
	clk.Advance(15 * time.Minute)
	if st, _ := s.Status(tok, id); st.State != contracts.StateApproved {
		t.Fatalf("after review: %s", st.State)
	}
	// A second session that only expires.
	other, _ := s.Create(tok, contracts.CreateSessionRequest{}, "", "http://sim.test")
	clk.Advance(72*time.Hour - time.Minute)
	if _, rem := s.Sweep(); rem != 0 {
		t.Fatalf("removed %d before retention", rem)
	}
	if _, err := s.Result(tok, id); err != nil {
		t.Fatalf("result within retention: %v", err)
	}
	clk.Advance(time.Hour)
	if _, rem := s.Sweep(); rem != 2 || s.Len() != 0 {
		t.Fatalf("removed %d, left %d; want 2, 0", rem, s.Len())
	}
	for _, x := range []string{id, other.RequestID} {
		if _, err := s.Result(tok, x); !isCode(err, contracts.ErrSessionNotFound) {
			t.Fatalf("swept result: %v", err)
		}
	}
}

func TestReviewDelayScales(t *testing.T) {
	s, clk := newSvc(t, func(c *Config) { c.TimeScale = 0.001 })
	sess, _ := s.Create(tok, contracts.CreateSessionRequest{}, "", "http://sim.test")
	run(t, s, clk, sess.RequestID, cat(happyUntilConfirm(), []step{{op: "liveness", want: contracts.StateUnderReview}}))
	clk.Advance(899 * time.Millisecond)
	if st, _ := s.Status(tok, sess.RequestID); st.State != contracts.StateUnderReview {
		t.Fatalf("review finished early: %s", st.State)
	}
	clk.Advance(time.Millisecond)
	if st, _ := s.Status(tok, sess.RequestID); st.State != contracts.StateApproved {
		t.Fatalf("review not finished after 15m × 0.001: %s", st.State)
	}
}

func TestCapacity(t *testing.T) {
	s, _ := newSvc(t, func(c *Config) { c.MaxSessions = 2 })
	for i := 0; i < 2; i++ {
		if _, err := s.Create(tok, contracts.CreateSessionRequest{}, "", "http://sim.test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(tok, contracts.CreateSessionRequest{}, "", "http://sim.test"); !isCode(err, contracts.ErrSessionCapacity) {
		t.Fatalf("third session: %v", err)
	}
}

func TestScenarioPerToken(t *testing.T) {
	s, clk := newSvc(t, func(c *Config) { c.Scenarios = map[string]string{"qa-reject": "review=2016, score=91.5"} })
	sess, _ := s.Create("qa-reject", contracts.CreateSessionRequest{}, "", "http://sim.test")
	v := run(t, s, clk, sess.RequestID, cat(happyUntilConfirm(), []step{
		{op: "liveness", want: contracts.StateUnderReview},
		{op: "review", want: contracts.StateRejected, wantCode: contracts.CodeSimilarityLow}}))
	if v.Liveness.Score != 91.5 {
		t.Fatalf("score %v, want 91.5 from the scenario", v.Liveness.Score)
	}
	plain, _ := s.Create(tok, contracts.CreateSessionRequest{}, "", "http://sim.test")
	run(t, s, clk, plain.RequestID, cat(happyUntilConfirm(), []step{
		{op: "liveness", want: contracts.StateUnderReview}, {op: "review", want: contracts.StateApproved}}))
}

func TestSeedReproduces(t *testing.T) {
	trace := func() []string {
		s, clk := newSvc(t, nil)
		var out []string
		for i := 0; i < 3; i++ {
			sess, _ := s.Create(tok, contracts.CreateSessionRequest{}, "", "http://sim.test")
			v := run(t, s, clk, sess.RequestID, cat(happyUntilConfirm(), []step{{op: "liveness", want: contracts.StateUnderReview}}))
			out = append(out, fmt.Sprintf("%s %s %s %s %v", sess.RequestID, sess.QRURL, v.Card.Name, v.Card.IDCard, v.Liveness.Score))
		}
		return out
	}
	a, b := trace(), trace()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("run %d differs:\n%s\n%s", i, a[i], b[i])
		}
	}
	if a[0] == a[1] {
		t.Fatal("two sessions drew the same identity")
	}
}

func TestConcurrentSessionsAndPolls(t *testing.T) {
	s, _ := newSvc(t, func(c *Config) { c.ReviewDelay = 0 })
	s.clock = RealClock{} // reviews fire on real timers here
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n*4)
	for i := 0; i < n; i++ {
		wg.Add(2)
		sess, err := s.Create(tok, contracts.CreateSessionRequest{}, "", "http://sim.test")
		if err != nil {
			t.Fatal(err)
		}
		id := sess.RequestID
		go func() { // the phone, racing a second phone on the open
			defer wg.Done()
			_, e1 := s.Open(OpenRequest{RequestID: id})
			_, e2 := s.Open(OpenRequest{RequestID: id})
			if (e1 == nil) == (e2 == nil) {
				errs <- fmt.Errorf("%s: both or neither open succeeded: %v, %v", id, e1, e2)
				return
			}
			for _, f := range []func() error{
				func() error { _, err := s.ReadCard(id, android, ""); return err },
				func() error { _, err := s.Confirm(id); return err },
				func() error { _, err := s.Liveness(id, LivenessRequest{}, ""); return err },
			} {
				if err := f(); err != nil {
					errs <- err
				}
			}
		}()
		go func() { // the tenant polling
			defer wg.Done()
			for j := 0; j < 10; j++ {
				if _, err := s.Status(tok, id); err != nil {
					errs <- err
				}
				if j%5 == 0 {
					_ = s.Live(tok, 10)
				}
			}
		}()
	}
	go func() { // the sweeper
		for i := 0; i < 5; i++ {
			s.Sweep()
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRenderQR(t *testing.T) {
	b, err := RenderQR("http://127.0.0.1:8081/phone/qr/0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() != 256 || r.Dy() != 256 {
		t.Fatalf("size %v", r)
	}
}

func TestLiveIsPerTenantAndMetricsCount(t *testing.T) {
	s, clk := newSvc(t, nil)
	reg := prometheus.NewRegistry()
	if err := s.Instrument(reg); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Create(tok, contracts.CreateSessionRequest{}, "", "http://sim.test")
	b, _ := s.Create("other-tenant", contracts.CreateSessionRequest{}, "", "http://sim.test")
	if l := s.Live(tok, 0); len(l) != 1 || l[0].RequestID != a.RequestID {
		t.Fatalf("tenant list: %+v", l)
	}
	if l := s.Live("other-tenant", 0); len(l) != 1 || l[0].RequestID != b.RequestID {
		t.Fatalf("other tenant list: %+v", l)
	}
	run(t, s, clk, a.RequestID, []step{{op: "open", want: contracts.StateScanned}})
	clk.Advance(time.Hour)
	if l := s.Live(tok, 0); len(l) != 0 {
		t.Fatalf("expired sessions listed: %+v", l)
	}
	// created happened before Instrument; the expiry is session a's (b
	// was not looked at since, so it stays created until swept).
	got := gather(t, reg)
	for k, v := range map[string]float64{
		`idgate_simulator_session_transitions_total{state="scanned"}`:  1,
		`idgate_simulator_session_transitions_total{state="expired"}`:  1,
		`idgate_simulator_session_transitions_total{state="approved"}`: 0,
		`idgate_simulator_sessions`:                                    2,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

// gather flattens a registry into "name{label="value"}" → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			if lp := m.GetLabel(); len(lp) > 0 {
				key += "{" + lp[0].GetName() + `="` + lp[0].GetValue() + `"}`
			}
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func TestPreferTTL(t *testing.T) {
	s, clk := newSvc(t, nil)
	sess, err := s.Create(tok, contracts.CreateSessionRequest{}, "ttl=30s", "http://sim.test")
	if err != nil {
		t.Fatal(err)
	}
	if sess.ExpiresAt != t0.Add(30*time.Second) {
		t.Fatalf("expires_at %s, want 30 s after creation", sess.ExpiresAt)
	}
	clk.Advance(30 * time.Second)
	run(t, s, clk, sess.RequestID, []step{{op: "open_id", wantErr: contracts.ErrSessionExpired}})
	re, err := s.Regenerate(tok, sess.RequestID)
	if err != nil || re.ExpiresAt != clk.Now().Add(30*time.Second) {
		t.Fatalf("regenerated %+v, %v; want the same short TTL", re, err)
	}
}

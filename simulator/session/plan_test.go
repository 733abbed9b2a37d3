package session

import (
	"errors"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
)

func TestParsePlan(t *testing.T) {
	c := func(v contracts.SessionCode) *contracts.SessionCode { return &v }
	f := func(v float64) *float64 { return &v }
	d := func(v time.Duration) *time.Duration { return &v }
	tests := []struct {
		in      string
		want    Plan
		wantErr bool
	}{
		{"", Plan{}, false},
		{"nfc=66664020", Plan{NFC: c(66664020)}, false},
		{"NFC=Success", Plan{NFC: c(0)}, false},
		{"nfc=301, liveness=1003", Plan{NFC: c(301), Liveness: c(1003)}, false},
		{`liveness="pass"; foo=bar`, Plan{Liveness: c(0)}, false},
		{"review=rejected", Plan{Review: c(2006)}, false},
		{"review=approved,review=2005", Plan{Review: c(2005)}, false},
		{"app_auth=verified_other", Plan{AppAuth: c(7002)}, false},
		{"score=88.5,similarity=64", Plan{Score: f(88.5), Similarity: f(64)}, false},
		{"review_delay=2s", Plan{ReviewDelay: d(2 * time.Second)}, false},
		{"ttl=90s", Plan{TTL: d(90 * time.Second)}, false},
		{"ttl=0s", Plan{}, true},
		{"ttl=48h", Plan{}, true},
		{"result=-5, status=429, respond-async", Plan{}, false}, // the check API's keys
		{"nfc=1003", Plan{}, true},
		{"liveness=600100", Plan{}, true},
		{"review=2016x", Plan{}, true},
		{"review=1001", Plan{}, true},
		{"app_auth=maybe", Plan{}, true},
		{"score=101", Plan{}, true},
		{"similarity=abc", Plan{}, true},
		{"review_delay=-1s", Plan{}, true},
	}
	for _, tt := range tests {
		got, err := ParsePlan(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err %v", tt.in, err)
			continue
		}
		if !tt.wantErr && !planEqual(got, tt.want) {
			t.Errorf("%q: %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func planEqual(a, b Plan) bool {
	eqC := func(x, y *contracts.SessionCode) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	eqF := func(x, y *float64) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	eqD := func(x, y *time.Duration) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return eqC(a.NFC, b.NFC) && eqC(a.Liveness, b.Liveness) && eqC(a.Review, b.Review) && eqC(a.AppAuth, b.AppAuth) &&
		eqF(a.Score, b.Score) && eqF(a.Similarity, b.Similarity) && eqD(a.ReviewDelay, b.ReviewDelay) && eqD(a.TTL, b.TTL)
}

func TestMagicPlansParse(t *testing.T) {
	for _, m := range contracts.SessionMagics {
		if _, err := ParsePlan(m.Prefer); err != nil {
			t.Errorf("%s: %v", m.IDCard, err)
		}
	}
}

func FuzzParsePlan(f *testing.F) {
	for _, s := range []string{"nfc=66664020", "liveness=1003, review=rejected", "score=1e400", `app_auth="x";q=1`, ",,=,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePlan(s)
		if err != nil {
			return
		}
		if p.Score != nil && (*p.Score < 0 || *p.Score > 100) {
			t.Fatalf("score %v accepted", *p.Score)
		}
		if p.NFC != nil {
			if info, ok := contracts.LookupSessionCode(*p.NFC); !ok || (info.Stage != contracts.StageNFC && *p.NFC != 0) {
				t.Fatalf("nfc code %d accepted", *p.NFC)
			}
		}
	})
}

func TestDeviceSupport(t *testing.T) {
	tests := []struct {
		d    Device
		want contracts.SessionCode
	}{
		{Device{Platform: "android", Model: "HUAWEI Mate 60", OSVersion: "12"}, 0},
		{Device{Platform: "Android", Model: "Google PIXEL 7a", OSVersion: "14"}, contracts.CodeNFCUnsupported},
		{Device{Platform: "ios", OSVersion: "16"}, 0},
		{Device{Platform: "iOS", OSVersion: "16.0.1"}, 0},
		{Device{Platform: "ios", OSVersion: "15.8"}, contracts.CodeNFCUnsupported},
		{Device{Platform: "ios", OSVersion: ""}, contracts.CodeNFCUnsupported},
		{Device{Platform: "ios", OSVersion: "eighteen"}, contracts.CodeNFCUnsupported},
		{Device{}, contracts.CodeNFCBadParams},
	}
	for _, tt := range tests {
		if got := tt.d.supported(); got != tt.want {
			t.Errorf("%+v: %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestGeneratedCardsAreValid(t *testing.T) {
	s, _ := newSvc(t, nil)
	now := t0
	for i := 0; i < 200; i++ {
		x := &session{}
		_ = x
		r := newRand(uint64(i))
		c := s.identity(r, now)
		if err := validCard(c, now); err != nil {
			t.Fatalf("card %d: %v (%+v)", i, err, c)
		}
		expireCard(&c, now)
		if !cardExpired(&c, now) {
			t.Fatalf("expireCard left %s..%s valid", c.ValidityBegin, c.ValidityEnd)
		}
	}
}

func TestPlanAppliedRoundTrips(t *testing.T) {
	for _, in := range []string{
		"nfc=66664020", "nfc=success, liveness=1003", "review=rejected, app_auth=verified_other",
		"score=88.5, similarity=64, review_delay=1.5s, ttl=30s", "result=-5, review=approved",
	} {
		p, err := ParsePlan(in)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePlan(p.Applied())
		if err != nil || !planEqual(p, back) {
			t.Errorf("%q → %q → %+v (%v)", in, p.Applied(), back, err)
		}
	}
	if got := (Plan{}).Applied(); got != "" {
		t.Errorf("empty plan applied %q", got)
	}
}

// FuzzCreate feeds arbitrary create requests: every refusal is a 400 in the
// API's vocabulary, never a panic or a 500.
func FuzzCreate(f *testing.F) {
	f.Add("nfc", "张三", "11010519491231002X", "http://127.0.0.1/hook", "ref", "review=2016")
	f.Add("app_auth", "", "", "", "", "app_auth=maybe")
	f.Add("fax", "Zhang", "110105194912310021", "ftp://x", "", "ttl=-1s")
	cfg := DefaultConfig()
	cfg.Seed = 1
	cfg.MaxSessions = 1 << 30
	s, err := New(cfg, nil, WithQRRenderer(stubQR))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, flow, name, id, callback, ref, prefer string) {
		req := contracts.CreateSessionRequest{Flow: contracts.SessionFlow(flow), Name: name, IDCard: id, CallbackURL: callback, Reference: ref}
		sess, err := s.Create(tok, req, prefer, "http://sim.test")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != contracts.ErrTokenMismatched {
				t.Fatalf("create %+v, Prefer %q: %v", req, prefer, err)
			}
			return
		}
		if sess.State != contracts.StateCreated || sess.RequestID == "" {
			t.Fatalf("created %+v", sess)
		}
	})
}

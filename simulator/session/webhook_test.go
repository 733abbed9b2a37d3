package session

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
)

// receiver fails the first failFirst deliveries, then verifies and keeps
// the rest.
type receiver struct {
	t         *testing.T
	secret    []byte
	failFirst int32
	calls     atomic.Int32
	mu        sync.Mutex
	events    []contracts.SessionEvent
	got       chan struct{}
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if n := rv.calls.Add(1); n <= rv.failFirst {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
		return
	}
	err := contracts.VerifyWebhook(rv.secret, r.Header.Get(contracts.WebhookTimestampHeader), r.Header.Get(contracts.WebhookSignatureHeader), body, time.Now(), 5*time.Minute)
	if err != nil {
		rv.t.Errorf("delivery does not verify: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev contracts.SessionEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		rv.t.Errorf("delivery body: %v", err)
	}
	if r.Header.Get(contracts.WebhookEventHeader) != ev.ID {
		rv.t.Errorf("event header %q, body id %q", r.Header.Get(contracts.WebhookEventHeader), ev.ID)
	}
	rv.mu.Lock()
	rv.events = append(rv.events, ev)
	rv.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	rv.got <- struct{}{}
}

func webhookSvc(t *testing.T, mut func(*Config)) *Service {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Seed = 7
	cfg.Webhook.InitialBackoff = 5 * time.Millisecond
	cfg.Webhook.MaxBackoff = 20 * time.Millisecond
	cfg.Webhook.Timeout = 2 * time.Second
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg, nil, WithQRRenderer(stubQR))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func wait(t *testing.T, ch chan struct{}, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d deliveries arrived", i, n)
		}
	}
}

func TestWebhookEveryChangeSignedWithRetries(t *testing.T) {
	s := webhookSvc(t, func(c *Config) { c.ReviewDelay = 0 })
	rv := &receiver{t: t, secret: []byte(s.cfg.Webhook.Secret), failFirst: 2, got: make(chan struct{}, 16)}
	srv := httptest.NewServer(rv)
	defer srv.Close()

	sess, err := s.Create(tok, contracts.CreateSessionRequest{CallbackURL: srv.URL + "/hook", Reference: "order-7"}, "", "http://sim.test")
	if err != nil {
		t.Fatal(err)
	}
	id := sess.RequestID
	wait(t, rv.got, 1) // created, after two refusals
	for _, f := range []func() error{
		func() error { _, err := s.Open(OpenRequest{RequestID: id}); return err },
		func() error { _, err := s.ReadCard(id, android, ""); return err },
		func() error { _, err := s.Confirm(id); return err },
		func() error { _, err := s.Liveness(id, LivenessRequest{}, ""); return err },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, rv.got, 6) // scanned, card_read, confirmed, liveness_passed, under_review, approved
	rv.mu.Lock()
	byVersion := map[int64]contracts.SessionState{}
	for _, ev := range rv.events {
		if ev.RequestID != id || ev.Reference != "order-7" || ev.Type != contracts.SessionEventType {
			t.Errorf("event %+v", ev)
		}
		byVersion[ev.Version] = ev.State
	}
	rv.mu.Unlock()
	want := []contracts.SessionState{contracts.StateCreated, contracts.StateScanned, contracts.StateCardRead, contracts.StateConfirmed,
		contracts.StateLivenessPassed, contracts.StateUnderReview, contracts.StateApproved}
	for i, st := range want {
		if byVersion[int64(i+1)] != st {
			t.Errorf("version %d: %s, want %s", i+1, byVersion[int64(i+1)], st)
		}
	}
	// The journal records an attempt just after the receiver answers it.
	var j []DeliveryAttempt
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if j = s.Journal().List(id, 0); len(j) >= 9 {
			break
		}
	}
	var first []DeliveryAttempt
	for _, a := range j {
		if a.Version == 1 {
			first = append(first, a)
		} else if a.Outcome != OutcomeDelivered || a.Attempt != 1 {
			t.Errorf("version %d: %+v", a.Version, a)
		}
	}
	if len(j) != 9 || len(first) != 3 || first[0].Outcome != OutcomeRetrying || first[0].Status != 503 ||
		first[1].Outcome != OutcomeRetrying || first[2].Outcome != OutcomeDelivered || first[2].Attempt != 3 {
		t.Fatalf("journal: %+v", j)
	}
}

func TestWebhookGivesUpAfterMaxAttempts(t *testing.T) {
	s := webhookSvc(t, func(c *Config) { c.Webhook.MaxAttempts = 3 })
	rv := &receiver{t: t, secret: []byte(s.cfg.Webhook.Secret), failFirst: 1000, got: make(chan struct{}, 1)}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	sess, _ := s.Create(tok, contracts.CreateSessionRequest{CallbackURL: srv.URL}, "", "http://sim.test")
	deadline := time.Now().Add(10 * time.Second)
	for {
		j := s.Journal().List(sess.RequestID, 0)
		if len(j) == 3 && j[2].Outcome == OutcomeGaveUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal: %+v", j)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := rv.calls.Load(); n != 3 {
		t.Fatalf("receiver saw %d attempts, want 3", n)
	}
}

func TestJournalBounded(t *testing.T) {
	j := NewJournal(3)
	for i := 0; i < 5; i++ {
		j.add(DeliveryAttempt{RequestID: "r", Attempt: i})
	}
	got := j.List("", 0)
	if len(got) != 3 || got[0].Attempt != 2 || got[2].Attempt != 4 || got[2].Seq != 5 {
		t.Fatalf("journal %+v", got)
	}
	if got := j.List("", 2); len(got) != 2 || got[1].Attempt != 4 {
		t.Fatalf("limit: %+v", got)
	}
	if got := NewJournal(0); len(got.List("", 0)) != 0 {
		t.Fatal("disabled journal kept entries")
	}
}

// TestWebhookBackoffDoubles drives retries with a fake clock: each wait is
// within [b/2, b] for b = 1 s, 2 s, 4 s, ..., and nothing is retried
// before the clock gets there.
func TestWebhookBackoffDoubles(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed = 3
	cfg.Webhook.MaxAttempts = 4
	clk := NewFakeClock(t0)
	s, err := New(cfg, nil, WithClock(clk), WithQRRenderer(stubQR))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	rv := &receiver{t: t, secret: []byte(cfg.Webhook.Secret), failFirst: 1000, got: make(chan struct{}, 1)}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	sess, _ := s.Create(tok, contracts.CreateSessionRequest{CallbackURL: srv.URL}, "", "http://sim.test")

	waitJournal := func(n int) []DeliveryAttempt {
		t.Helper()
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
			// Wait for the retry timer too: the journal entry is written
			// just before it is scheduled.
			if j := s.Journal().List(sess.RequestID, 0); len(j) >= n && (j[n-1].Outcome != OutcomeRetrying || clk.Pending() > 0) {
				return j
			}
		}
		t.Fatalf("journal never reached %d entries", n)
		return nil
	}
	for attempt, b := 1, time.Second; attempt <= 3; attempt, b = attempt+1, b*2 {
		j := waitJournal(attempt)
		a := j[attempt-1]
		wait := a.NextAt.Sub(a.At)
		if a.Outcome != OutcomeRetrying || wait < b/2 || wait > b {
			t.Fatalf("attempt %d: %s, next in %s; want retrying within [%s, %s]", attempt, a.Outcome, wait, b/2, b)
		}
		clk.Advance(wait - time.Millisecond)
		time.Sleep(20 * time.Millisecond)
		if n := len(s.Journal().List(sess.RequestID, 0)); n != attempt {
			t.Fatalf("retried before the backoff elapsed: %d entries", n)
		}
		clk.Advance(time.Millisecond)
	}
	if j := waitJournal(4); j[3].Outcome != OutcomeGaveUp || j[3].Attempt != 4 {
		t.Fatalf("last attempt: %+v", j[3])
	}
}

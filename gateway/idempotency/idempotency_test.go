package idempotency

import (
	"sync"
	"testing"
	"time"
	"unsafe"
)

func TestBeginStates(t *testing.T) {
	fp := NewFingerprint("/r", []byte(`{"a":1}`))
	other := NewFingerprint("/r", []byte(`{"a":2}`))
	s := NewMemory(time.Hour, 10)
	r := s.Begin("acme", "k1", fp)
	if r.State != Lead {
		t.Fatalf("first: %v", r.State)
	}
	for _, tc := range []struct {
		name   string
		tenant string
		fp     Fingerprint
		want   State
	}{
		{"same key running", "acme", fp, Wait},
		{"other body", "acme", other, Mismatch},
		{"other tenant leads its own", "globex", fp, Lead},
	} {
		if got := s.Begin(tc.tenant, "k1", tc.fp).State; got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	s.Complete(r.Claim, Answer{Status: 200, Body: []byte("ok"), Result: "0"})
	got := s.Begin("acme", "k1", fp)
	if got.State != Replay || string(got.Answer.Body) != "ok" || got.Answer.Result != "0" {
		t.Fatalf("after complete: %+v", got)
	}
	if s.Begin("acme", "k1", other).State != Mismatch {
		t.Fatal("a finished key accepted another body")
	}
}

func TestAbandonLetsTheNextLead(t *testing.T) {
	fp := NewFingerprint("/r", nil)
	s := NewMemory(time.Hour, 10)
	r := s.Begin("t", "k", fp)
	w := s.Begin("t", "k", fp)
	s.Abandon(r.Claim)
	select {
	case <-w.Done:
	default:
		t.Fatal("waiter not woken")
	}
	if s.Begin("t", "k", fp).State != Lead {
		t.Fatal("no new leader after abandon")
	}
}

func TestConcurrentDuplicatesGetTheFirstAnswer(t *testing.T) {
	fp := NewFingerprint("/r", []byte("body"))
	s := NewMemory(time.Hour, 100)
	const n = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	leads, answers := 0, map[string]int{}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r := s.Begin("t", "k", fp)
				switch r.State {
				case Lead:
					mu.Lock()
					leads++
					mu.Unlock()
					s.Complete(r.Claim, Answer{Status: 200, Body: []byte("first")})
					mu.Lock()
					answers["first"]++
					mu.Unlock()
					return
				case Wait:
					<-r.Done
				case Replay:
					mu.Lock()
					answers[string(r.Answer.Body)]++
					mu.Unlock()
					return
				default:
					t.Errorf("state %v", r.State)
					return
				}
			}
		}()
	}
	wg.Wait()
	if leads != 1 || answers["first"] != n {
		t.Fatalf("leads %d, answers %v", leads, answers)
	}
}

func TestExpiryAndBound(t *testing.T) {
	now := time.Unix(1000, 0)
	s := NewMemory(time.Minute, 3)
	s.now = func() time.Time { return now }
	fp := NewFingerprint("/r", nil)
	for _, k := range []string{"a", "b", "c"} {
		r := s.Begin("t", k, fp)
		s.Complete(r.Claim, Answer{Status: 200})
	}
	// Full: the oldest finished record makes room.
	if r := s.Begin("t", "d", fp); r.State != Lead {
		t.Fatalf("full store: %v", r.State)
	}
	if s.Len() != 3 {
		t.Fatalf("len %d, want 3", s.Len())
	}
	if s.Begin("t", "a", fp).State != Lead {
		t.Fatal("the evicted key still replays")
	}
	// Every running: no room, no eviction of running work.
	s2 := NewMemory(time.Minute, 1)
	s2.Begin("t", "x", fp)
	if s2.Begin("t", "y", fp).State != Full {
		t.Fatal("a running record was evicted")
	}
	// Past the TTL a finished record is gone.
	if s.Begin("t", "c", fp).State != Replay {
		t.Fatal("c should still replay before its TTL")
	}
	now = now.Add(2 * time.Minute)
	if s.Begin("t", "c", fp).State != Lead {
		t.Fatal("an expired record still replays")
	}
}

func TestCompleteKeepsCopies(t *testing.T) {
	fp := NewFingerprint("/r", nil)
	s := NewMemory(time.Hour, 10)
	r := s.Begin("acme", "k", fp)
	ct, body := []byte("application/json"), []byte("ok")
	s.Complete(r.Claim, Answer{Status: 200, ContentType: unsafe.String(&ct[0], len(ct)), Body: body})
	copy(ct, "XXXXXXXXXXXXXXXX")
	copy(body, "XX")
	got := s.Begin("acme", "k", fp)
	if got.State != Replay || got.Answer.ContentType != "application/json" || string(got.Answer.Body) != "ok" {
		t.Fatalf("the stored answer changed with the caller's buffers: %+v", got.Answer)
	}
}

package fieldcrypto

import (
	"sync"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
)

func newTestSealer(t *testing.T, to Recipient, p ReusePolicy) (*Sealer, *fakeClock) {
	t.Helper()
	s, err := NewSealer(to, p)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.now = clk.Now
	return s, clk
}

// TestSealerReuseBounds: the count, the age and a retirement (a key
// reload) each end a key's reuse; field sets never share a key.
func TestSealerReuseBounds(t *testing.T) {
	type step struct {
		set     FieldSet
		advance time.Duration
		retire  bool
		newKey  bool // the request is sealed with a key not used before
	}
	cases := []struct {
		name   string
		policy ReusePolicy
		steps  []step
	}{
		{"count", ReusePolicy{Messages: 3, MaxAge: time.Hour}, []step{
			{set: AllFields, newKey: true}, {set: AllFields}, {set: AllFields},
			{set: AllFields, newKey: true}, {set: AllFields},
		}},
		{"age", ReusePolicy{Messages: 100, MaxAge: time.Minute}, []step{
			{set: AllFields, newKey: true},
			{set: AllFields, advance: 59 * time.Second},
			{set: AllFields, advance: time.Second, newKey: true},
			{set: AllFields, advance: 30 * time.Second},
		}},
		{"reload retires", ReusePolicy{Messages: 100, MaxAge: time.Hour}, []step{
			{set: AllFields, newKey: true}, {set: AllFields},
			{set: AllFields, retire: true, newKey: true},
			{set: AllFields, newKey: true}, // retired: single-use keys from now on
		}},
		{"one message is no reuse", ReusePolicy{Messages: 1, MaxAge: time.Hour}, []step{
			{set: AllFields, newKey: true}, {set: AllFields, newKey: true}, {set: FieldName, newKey: true},
		}},
		{"field sets apart", ReusePolicy{Messages: 100, MaxAge: time.Hour}, []step{
			{set: AllFields, newKey: true}, {set: FieldName, newKey: true}, {set: FieldIDCard, newKey: true},
			{set: FieldName}, {set: AllFields}, {set: FieldIDCard},
		}},
		{"defaults", ReusePolicy{}, []step{
			{set: AllFields, newKey: true}, {set: AllFields},
			{set: AllFields, advance: DefaultReuseMaxAge, newKey: true},
		}},
	}
	for _, alg := range algorithms {
		for _, tc := range cases {
			t.Run(string(alg)+"/"+tc.name, func(t *testing.T) {
				fx := newFixture(t, nil)
				s, clk := newTestSealer(t, fx.to[alg], tc.policy)
				seen := map[string]bool{}
				for i, st := range tc.steps {
					clk.Add(st.advance)
					if st.retire {
						s.Retire()
					}
					sess, err := s.Session(st.set)
					if err != nil {
						t.Fatal(err)
					}
					if fresh := !seen[sess.Blob()]; fresh != st.newKey {
						t.Fatalf("step %d: fresh key %v, want %v", i, fresh, st.newKey)
					}
					seen[sess.Blob()] = true
					// The receiver opens what the session seals.
					sealed, enc, err := sess.Seal(samples[0], st.set)
					if err != nil {
						t.Fatal(err)
					}
					if got, _, err := fx.ring.Open(&enc, sealed); err != nil || got != samples[0] {
						t.Fatalf("step %d: receiver: %s", i, detail(err))
					}
				}
				if got := s.Wraps(); got != uint64(len(seen)) {
					t.Fatalf("%d wraps for %d keys", got, len(seen))
				}
			})
		}
	}
}

// TestSealerFreshIV: requests under one reused key never share an IV, and
// equal plaintexts give unrelated ciphertexts (GCM nonces; CBC IVs).
func TestSealerFreshIV(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			fx := newFixture(t, nil)
			s, _ := newTestSealer(t, fx.to[alg], ReusePolicy{Messages: 1000, MaxAge: time.Hour})
			const n = 500
			ivs, cts := map[string]bool{}, map[string]bool{}
			blob := ""
			for i := 0; i < n; i++ {
				req := contracts.CheckRequest{Name: samples[0].Name, IDCard: samples[0].IDCard}
				if _, err := s.SealRequest(&req, AllFields); err != nil {
					t.Fatal(err)
				}
				if blob == "" {
					blob = req.Encryption.CiphertextBlob
				}
				if req.Encryption.CiphertextBlob != blob {
					t.Fatal("key changed within the bounds")
				}
				if ivs[req.Encryption.IV] || cts[req.IDCard] {
					t.Fatalf("request %d repeats an IV or a ciphertext", i)
				}
				ivs[req.Encryption.IV], cts[req.IDCard] = true, true
			}
			if s.Wraps() != 1 {
				t.Fatalf("%d wraps, want 1", s.Wraps())
			}
		})
	}
}

// TestSealerAnswerAfterRotation: a session keeps the key it sealed with,
// so the answer to a request opens after the sealer has moved on.
func TestSealerAnswerAfterRotation(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			fx := newFixture(t, nil)
			s, _ := newTestSealer(t, fx.to[alg], ReusePolicy{Messages: 2, MaxAge: time.Hour})
			type sent struct {
				sess *Session
				rcv  *Session
			}
			var all []sent
			for i := 0; i < 5; i++ {
				up, err := s.Session(AllFields)
				if err != nil {
					t.Fatal(err)
				}
				sealed, enc, _ := up.Seal(samples[i%len(samples)], AllFields)
				_, rcv, err := fx.ring.Open(&enc, sealed)
				if err != nil {
					t.Fatal(detail(err))
				}
				all = append(all, sent{up, rcv})
				if i == 2 {
					s.Retire()
				}
			}
			for i, x := range all {
				f := samples[i%len(samples)]
				ans, enc, err := x.rcv.Seal(f, x.rcv.Fields())
				if err != nil {
					t.Fatal(err)
				}
				if got, err := x.sess.Open(&enc, ans); err != nil || got != f {
					t.Fatalf("answer %d: %s", i, detail(err))
				}
				// Another request's session under the same key has another
				// IV: it must not open this answer to the same fields.
				if j := i ^ 1; j < len(all) && all[j].sess.Blob() == x.sess.Blob() {
					if got, err := all[j].sess.Open(&contracts.Encryption{
						EncryptList: enc.EncryptList, CiphertextBlob: enc.CiphertextBlob,
						Algorithm: enc.Algorithm, TagList: enc.TagList,
					}, ans); err == nil && got == f {
						t.Fatalf("answer %d opened under request %d's IV", i, j)
					}
				}
			}
		})
	}
}

// TestSealerConcurrent: under concurrency no key seals more than its
// count, and every session seals for the receiver.
func TestSealerConcurrent(t *testing.T) {
	fx := newFixture(t, nil)
	const limit, workers, each = 7, 8, 40
	s, err := NewSealer(fx.to[SM4GCM], ReusePolicy{Messages: limit, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	uses := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				sess, err := s.Session(AllFields)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				uses[sess.Blob()]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range uses {
		if n > limit {
			t.Fatalf("a key sealed %d requests, limit %d", n, limit)
		}
		total += n
	}
	if min := (workers*each + limit - 1) / limit; total != workers*each || len(uses) < min || s.Wraps() != uint64(len(uses)) {
		t.Fatalf("%d requests over %d keys (%d wraps)", total, len(uses), s.Wraps())
	}
}

func TestReusePolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		p  ReusePolicy
		ok bool
	}{
		{ReusePolicy{}, true},
		{ReusePolicy{Messages: 1}, true},
		{ReusePolicy{Messages: MaxReuseMessages, MaxAge: time.Hour}, true},
		{ReusePolicy{Messages: MaxReuseMessages + 1}, false},
		{ReusePolicy{MaxAge: -time.Second}, false},
	} {
		if err := tc.p.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.p, err)
		}
	}
	if _, err := NewSealer(Recipient{}, ReusePolicy{}); err == nil {
		t.Error("sealer without a recipient")
	}
}

package fieldcrypto

import (
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idgate/idgate/contracts"
)

// ReusePolicy bounds the use of one wrapped data key by a Sealer, as the
// AWS Encryption SDK's caching materials manager bounds a cached data key:
// at most Messages requests, and for at most MaxAge after the key was
// wrapped, whichever comes first. Every request still gets a fresh random
// IV (nonce). The package documentation ("Data-key reuse") gives the
// arithmetic behind the limits.
type ReusePolicy struct {
	// Messages is the most requests one data key seals. 0 takes
	// DefaultReuseMessages; 1 draws a fresh key for every request.
	Messages uint64
	// MaxAge is the longest one data key seals for, from its wrap. 0 takes
	// DefaultReuseMaxAge.
	MaxAge time.Duration
}

// Reuse limits.
const (
	// DefaultReuseMessages keeps the SM4-GCM nonce-collision probability of
	// one key below 2^24/2^97 = 2^-73.
	DefaultReuseMessages = 1 << 12
	// DefaultReuseMaxAge: a key wrapped once a minute at most, at low
	// traffic, and no key in use for longer.
	DefaultReuseMaxAge = time.Minute
	// MaxReuseMessages is the largest Messages a policy may give: the
	// collision probability of one key stays below 2^40/2^97 = 2^-57.
	MaxReuseMessages = 1 << 20
)

func (p ReusePolicy) withDefaults() ReusePolicy {
	if p.Messages == 0 {
		p.Messages = DefaultReuseMessages
	}
	if p.MaxAge == 0 {
		p.MaxAge = DefaultReuseMaxAge
	}
	return p
}

// Validate refuses limits outside (0, MaxReuseMessages] and a negative age;
// zero values stand for the defaults.
func (p ReusePolicy) Validate() error {
	if p.Messages > MaxReuseMessages {
		return fmt.Errorf("fieldcrypto: reuse: messages %d above the limit of %d (2^20: GCM nonce collisions stay below 2^-57 per key)", p.Messages, MaxReuseMessages)
	}
	if p.MaxAge < 0 {
		return fmt.Errorf("fieldcrypto: reuse: max age %s is negative", p.MaxAge)
	}
	return nil
}

// Sealer seals requests for one recipient, reusing a wrapped data key
// within its ReusePolicy: the side that sends many requests to one receiver
// (the gateway towards the upstream), where wrapping a fresh key for every
// request (an SM2 encryption, ~85 µs, or an RSA one) would cost more than
// everything else the request does.
//
// Guarantees: a data key seals at most Messages requests and none after
// MaxAge; every request gets its own random IV; a key serves one field set
// only (requests sealing name and id_card never share a key with requests
// sealing one of them, see the package documentation); the key never
// outlives the recipient (a Sealer has one) nor Retire. Sessions it returns
// carry their key and IV, so a request's answer opens with the key that
// sealed it even after the Sealer has moved on. Safe for concurrent use;
// it holds at most one current key per field set.
type Sealer struct {
	to      Recipient
	policy  ReusePolicy
	now     func() time.Time // tests replace it
	retired atomic.Bool
	slots   [AllFields + 1]reuseSlot // indexed by FieldSet
	wraps   atomic.Uint64
}

type reuseSlot struct {
	mu  sync.Mutex // serialises the wrap of the slot's next key
	cur atomic.Pointer[dataKey]
}

// dataKey is one wrapped data key and its ciphers, shared by the sessions
// it seals (the ciphers are stateless, safe for concurrent use).
type dataKey struct {
	proto Session // alg, key, blob and ciphers; no IV
	born  time.Time
	used  atomic.Uint64 // requests granted, including refused attempts past the limit
}

// NewSealer returns a sealer for to. p's zero fields take the defaults.
func NewSealer(to Recipient, p ReusePolicy) (*Sealer, error) {
	if to.alg == "" {
		return nil, fmt.Errorf("fieldcrypto: sealer: recipient has no public key")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &Sealer{to: to, policy: p.withDefaults(), now: time.Now}, nil
}

// Wraps counts the data keys the sealer has wrapped (public-key operations).
func (s *Sealer) Wraps() uint64 { return s.wraps.Load() }

// Retire ends the reuse of every current key: from now on each request
// gets a fresh single-use key. Call it when the sealer is replaced (a key
// reload), so that no request starting afterwards is sealed with a key
// drawn before. Sessions already returned keep working.
func (s *Sealer) Retire() {
	s.retired.Store(true)
	for i := range s.slots {
		s.slots[i].cur.Store(nil)
	}
}

// Session returns a session that seals one request's fields in set: the
// current data key of set while it is within the policy (a fresh one
// otherwise) and a fresh random IV.
func (s *Sealer) Session(set FieldSet) (*Session, error) {
	if !set.valid() {
		return nil, errOf(KindFieldNotAllowed, "encrypt_list")
	}
	dk, err := s.acquire(set)
	if err != nil {
		return nil, err
	}
	sess := dk.proto // copies the shared key, blob and ciphers
	sess.iv = make([]byte, s.to.alg.ivLen())
	// crypto/rand.Read never fails (Go 1.24+).
	_, _ = rand.Read(sess.iv)
	sess.ivB64 = b64.EncodeToString(sess.iv)
	return &sess, nil
}

// SealRequest is the package-level SealRequest with the sealer's reuse:
// it encrypts the fields in set of req and sets req.Encryption; the
// session opens the answer.
func (s *Sealer) SealRequest(req *contracts.CheckRequest, set FieldSet) (*Session, error) {
	sess, err := s.Session(set)
	if err != nil {
		return nil, err
	}
	return sess.sealRequest(req, set)
}

// acquire returns a data key that may seal one more request of set.
func (s *Sealer) acquire(set FieldSet) (*dataKey, error) {
	if s.policy.Messages <= 1 || s.retired.Load() {
		return s.wrap() // single use: not kept, wrapped without the lock
	}
	slot := &s.slots[set]
	if dk := slot.cur.Load(); dk != nil && s.take(dk) {
		return dk, nil
	}
	slot.mu.Lock()
	defer slot.mu.Unlock()
	// Another request may have rotated the key while this one waited.
	if dk := slot.cur.Load(); dk != nil && s.take(dk) {
		return dk, nil
	}
	dk, err := s.wrap()
	if err != nil {
		return nil, err
	}
	dk.used.Store(1)
	if !s.retired.Load() {
		slot.cur.Store(dk)
	}
	return dk, nil
}

// take counts one request against dk; false once dk is past either limit.
// The count is exact under concurrency: no more than Messages callers
// ever get true.
func (s *Sealer) take(dk *dataKey) bool {
	if s.now().Sub(dk.born) >= s.policy.MaxAge {
		return false
	}
	return dk.used.Add(1) <= s.policy.Messages
}

// wrap draws and wraps a fresh data key.
func (s *Sealer) wrap() (*dataKey, error) {
	key := make([]byte, s.to.alg.keyLen())
	_, _ = rand.Read(key)
	wrapped, err := s.to.wrap(key)
	if err != nil {
		return nil, fmt.Errorf("fieldcrypto: sealer: wrap data key: %w", err)
	}
	proto, err := newSession(s.to.alg, key, make([]byte, s.to.alg.ivLen()), "", b64.EncodeToString(wrapped), fieldOrder{})
	if err != nil {
		return nil, err
	}
	s.wraps.Add(1)
	dk := &dataKey{proto: *proto, born: s.now()}
	dk.proto.iv, dk.proto.ivB64 = nil, ""
	return dk, nil
}

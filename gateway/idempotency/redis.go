package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idgate/idgate/gateway/stores"
)

// Redis is the fleet's store: one Redis key per tenant and Idempotency-Key,
// so every replica sees the same records. A record is a string:
//
//	running:  'R' fingerprint(32) token(16)           expires after the lease
//	answered: 'A' fingerprint(32) answer (see encode)  expires after the TTL
//
// The key holds a SHA-256 of the client's Idempotency-Key (any printable
// value is safe in it), under the tenant's hash tag. Only the request's
// fingerprint is kept, never its body.
//
// A running record expires after the lease, the longest a request can be
// under way: a leader whose replica died is replaced by the next request
// with the key. A duplicate of a running request gets Wait with a Done
// that closes after a short poll interval; admission then calls Begin
// again, until the answer is stored, the record is abandoned or its lease
// runs out.
//
// Every call goes through the Redis guard: a Redis error, timeout or open
// breaker makes Begin answer Unavailable, and nothing runs.
//
// Complete and Abandon never wait for Redis: the write is queued and a
// background loop (one per store) sends it, retrying with bounded backoff
// while Redis fails or its breaker is open, until it succeeds or the
// record's lease has ended. A settlement still unsent then is dropped:
// the lease expiry has freed the key, and a write now could only fail its
// token check. Until it lands a duplicate sees "running" a little longer.
type Redis struct {
	conns *stores.Conns
	lease time.Duration
	ttl   time.Duration
	poll  time.Duration

	mu      sync.Mutex
	pending []settlement
	sending bool // a batch taken from pending is being sent
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	closing sync.Once
}

// settlement is a queued leader's write: script on key with argv, worth
// sending until the record's lease ends.
type settlement struct {
	script *redis.Script
	key    string
	argv   []any
	until  time.Time
}

// DefaultPoll is how long a duplicate waits before asking again.
const DefaultPoll = 25 * time.Millisecond

// settleBackoff and maxSettleBackoff bound the settling loop's waits
// between failed rounds; closeDrain bounds Close's last attempts.
const (
	settleBackoff    = 5 * time.Millisecond
	maxSettleBackoff = 500 * time.Millisecond
	closeDrain       = 2 * time.Second
)

// NewRedis builds the store on conns: lease bounds a running record (the
// longest a request can be under way), ttl keeps an answer.
func NewRedis(conns *stores.Conns, lease, ttl time.Duration) *Redis {
	// PX needs at least a millisecond.
	s := &Redis{
		conns: conns, lease: max(lease, time.Millisecond), ttl: max(ttl, time.Millisecond), poll: DefaultPoll,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go s.settleLoop()
	return s
}

const (
	tokenLen   = 16
	headerLen  = 1 + sha256.Size // state byte and fingerprint
	runningLen = headerLen + tokenLen
)

// beginScript: KEYS[1] the record; ARGV[1] the running value to set,
// ARGV[2] the lease in ms. Answers 0 (set: lead), 2 (running: wait), 3
// (another fingerprint) or the stored answered record.
var beginScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 0
end
if string.sub(v, 2, 33) ~= string.sub(ARGV[1], 2, 33) then return 3 end
if string.sub(v, 1, 1) == 'A' then return v end
return 2
`)

// completeScript: KEYS[1] the record; ARGV[1] the leader's running value,
// ARGV[2] the answered record, ARGV[3] its TTL in ms. Stores the answer
// only while the record is still the leader's.
var completeScript = redis.NewScript(`
if redis.call('GETRANGE', KEYS[1], 0, 48) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// abandonScript: KEYS[1] the record; ARGV[1] the leader's running value.
// Deletes the record only while it is still the leader's.
var abandonScript = redis.NewScript(`
if redis.call('GETRANGE', KEYS[1], 0, 48) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`)

// key is the record's Redis key.
func (s *Redis) key(tenant, key string) string {
	h := sha256.Sum256([]byte(key))
	return s.conns.Key("{t:"+tenant+"}", "idem", hex.EncodeToString(h[:]))
}

// Begin looks the tenant's key up and claims it when absent, in one
// script.
func (s *Redis) Begin(tenant, key string, fp Fingerprint) Result {
	var token [tokenLen]byte
	rand.Read(token[:])
	running := make([]byte, 0, runningLen)
	running = append(append(append(running, 'R'), fp[:]...), token[:]...)
	rk := s.key(tenant, key)
	// The lease is counted from before the call: Redis's expiry of a
	// record set by this call is never earlier.
	until := time.Now().Add(s.lease)
	var reply any
	err := s.conns.RedisGuard.Do(context.Background(), func(ctx context.Context) error {
		var err error
		reply, err = beginScript.Run(ctx, s.conns.Redis, []string{rk}, running, s.lease.Milliseconds()).Result()
		return err
	})
	if err != nil {
		if !errors.Is(err, stores.ErrOpen) {
			// The script may have run (a timeout, a lost reply) and
			// set our running record: abandon it, best effort, or the
			// key would stay locked for the whole lease.
			s.enqueue(settlement{script: abandonScript, key: rk, argv: []any{string(running)}, until: until})
		}
		return Result{State: Unavailable, Err: fmt.Errorf("idempotency: redis: begin: %w", err)}
	}
	switch v := reply.(type) {
	case int64:
		switch v {
		case 0:
			return Result{State: Lead, Claim: Claim{redisKey: rk, running: string(running), until: until}}
		case 2:
			done := make(chan struct{})
			time.AfterFunc(s.poll, func() { close(done) })
			return Result{State: Wait, Done: done}
		case 3:
			return Result{State: Mismatch}
		}
	case string:
		a, err := decodeAnswer(v)
		if err != nil {
			return Result{State: Unavailable, Err: fmt.Errorf("idempotency: redis: begin: %w", err)}
		}
		return Result{State: Replay, Answer: a}
	}
	return Result{State: Unavailable, Err: fmt.Errorf("idempotency: redis: begin: unexpected reply %T", reply)}
}

// Complete queues the leader's answer, stored for the TTL if the record
// is still the leader's (its lease did not run out); it returns at once.
// The answer is encoded now: the caller's body may view a pooled response.
func (s *Redis) Complete(c Claim, a Answer) {
	if c.redisKey == "" {
		return
	}
	v := encodeAnswer([]byte(c.running[:headerLen]), a)
	s.enqueue(settlement{script: completeScript, key: c.redisKey, argv: []any{c.running, v, s.ttl.Milliseconds()}, until: c.until})
}

// Abandon queues the deletion of the leader's record, if still its own;
// the next Begin then leads afresh. It returns at once.
func (s *Redis) Abandon(c Claim) {
	if c.redisKey == "" {
		return
	}
	s.enqueue(settlement{script: abandonScript, key: c.redisKey, argv: []any{c.running}, until: c.until})
}

// enqueue hands w to the settling loop.
func (s *Redis) enqueue(w settlement) {
	s.mu.Lock()
	s.pending = append(s.pending, w)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// settleLoop sends queued settlements as soon as they come, and retries
// the failed ones, backing off up to maxSettleBackoff, until each succeeds
// or its record's lease has ended.
func (s *Redis) settleLoop() {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		}
		for wait := settleBackoff; s.flush() != nil; wait = min(2*wait, maxSettleBackoff) {
			timer.Reset(wait)
			select {
			case <-s.stop:
				timer.Stop()
				return
			case <-timer.C:
			}
		}
	}
}

// flush sends every queued settlement once, in order. The failed ones stay
// queued unless their lease has ended; the first error is returned.
func (s *Redis) flush() error {
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.sending = true
	s.mu.Unlock()
	var first error
	var keep []settlement
	for _, w := range batch {
		if first == nil || !errors.Is(first, stores.ErrOpen) {
			err := s.conns.RedisGuard.Do(context.Background(), func(ctx context.Context) error {
				return w.script.Run(ctx, s.conns.Redis, []string{w.key}, w.argv...).Err()
			})
			if err == nil {
				continue
			}
			if first == nil {
				first = fmt.Errorf("idempotency: redis: settle: %w", err)
			}
		}
		if time.Now().Before(w.until) {
			keep = append(keep, w)
		}
	}
	if len(keep) > 0 {
		s.mu.Lock()
		s.pending = append(keep, s.pending...)
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.sending = false
	s.mu.Unlock()
	if len(keep) == 0 {
		return nil
	}
	return first // a settlement is kept only when its call failed
}

// Close stops the settling loop, then sends what is still queued, within
// closeDrain; what remains then is left to its lease.
func (s *Redis) Close() {
	s.closing.Do(func() {
		close(s.stop)
		<-s.done
		deadline := time.Now().Add(closeDrain)
		for s.flush() != nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// encodeAnswer appends an answered record to header ('R' or 'A' and the
// fingerprint): status, content type and result length-prefixed, then the
// body.
func encodeAnswer(header []byte, a Answer) []byte {
	b := make([]byte, 0, headerLen+3*binary.MaxVarintLen64+len(a.ContentType)+len(a.Result)+len(a.Body))
	b = append(b, 'A')
	b = append(b, header[1:headerLen]...)
	b = binary.AppendUvarint(b, uint64(a.Status))
	b = binary.AppendUvarint(b, uint64(len(a.ContentType)))
	b = append(b, a.ContentType...)
	b = binary.AppendUvarint(b, uint64(len(a.Result)))
	b = append(b, a.Result...)
	return append(b, a.Body...)
}

var errCorrupt = errors.New("corrupt answer record")

// decodeAnswer reads an answered record.
func decodeAnswer(v string) (*Answer, error) {
	if len(v) < headerLen || v[0] != 'A' {
		return nil, errCorrupt
	}
	b := []byte(v[headerLen:])
	status, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errCorrupt
	}
	b = b[n:]
	field := func() (string, bool) {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return "", false
		}
		s := string(b[n : n+int(l)])
		b = b[n+int(l):]
		return s, true
	}
	ct, ok1 := field()
	res, ok2 := field()
	if !ok1 || !ok2 {
		return nil, errCorrupt
	}
	return &Answer{Status: int(status), ContentType: ct, Result: res, Body: b}, nil
}

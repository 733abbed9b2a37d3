package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
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
type Redis struct {
	conns *stores.Conns
	lease time.Duration
	ttl   time.Duration
	poll  time.Duration
}

// DefaultPoll is how long a duplicate waits before asking again.
const DefaultPoll = 25 * time.Millisecond

// settleAttempts and settleBackoff bound Complete's and Abandon's retries:
// past them the record is left to its lease, after which a retry of the
// request leads afresh.
const (
	settleAttempts = 3
	settleBackoff  = 10 * time.Millisecond
)

// NewRedis builds the store on conns: lease bounds a running record (the
// longest a request can be under way), ttl keeps an answer.
func NewRedis(conns *stores.Conns, lease, ttl time.Duration) *Redis {
	// PX needs at least a millisecond.
	return &Redis{conns: conns, lease: max(lease, time.Millisecond), ttl: max(ttl, time.Millisecond), poll: DefaultPoll}
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
	var reply any
	err := s.conns.RedisGuard.Do(context.Background(), func(ctx context.Context) error {
		var err error
		reply, err = beginScript.Run(ctx, s.conns.Redis, []string{rk}, running, s.lease.Milliseconds()).Result()
		return err
	})
	if err != nil {
		return Result{State: Unavailable, Err: fmt.Errorf("idempotency: redis: begin: %w", err)}
	}
	switch v := reply.(type) {
	case int64:
		switch v {
		case 0:
			return Result{State: Lead, Claim: Claim{redisKey: rk, running: string(running)}}
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

// Complete stores the leader's answer for the TTL, if the record is still
// the leader's (its lease did not run out). The answer is encoded at once:
// the caller's body may view a pooled response.
func (s *Redis) Complete(c Claim, a Answer) {
	if c.redisKey == "" {
		return
	}
	v := encodeAnswer([]byte(c.running[:headerLen]), a)
	s.settle(completeScript, c, v, s.ttl.Milliseconds())
}

// Abandon deletes the leader's record, if still its own; the next Begin
// leads afresh.
func (s *Redis) Abandon(c Claim) {
	if c.redisKey == "" {
		return
	}
	s.settle(abandonScript, c)
}

// settle runs a leader's script, retrying a failed call a few times within
// a short bound. When Redis stays unreachable the record is left to its
// lease: it expires, and a retry of the request then leads afresh (an
// answer lost this way is asked again, as when the leader's replica
// dies).
func (s *Redis) settle(script *redis.Script, c Claim, args ...any) {
	argv := append([]any{c.running}, args...)
	for i := range settleAttempts {
		err := s.conns.RedisGuard.Do(context.Background(), func(ctx context.Context) error {
			return script.Run(ctx, s.conns.Redis, []string{c.redisKey}, argv...).Err()
		})
		if err == nil || errors.Is(err, stores.ErrOpen) {
			return
		}
		if i < settleAttempts-1 {
			time.Sleep(settleBackoff << i)
		}
	}
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

package ratelimit

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idgate/idgate/gateway/stores"
)

// GCRALua defines the Lua function gcra(base, key_id, rate, burst, now_us)
// that every script taking a rate-limit token embeds, so the fleet's one
// bucket per key is kept by one algorithm (go-redis/redis_rate's generic
// cell rate algorithm). The key's theoretical arrival time (TAT, unix
// microseconds) is stored at base..':rl:'..key_id; the emission interval
// is 1/rate, the tolerance emission×burst, and the clock is the caller's
// now_us (Redis TIME, one clock for the fleet). It answers {allowed (0/1),
// remaining whole tokens, reset µs (until the bucket is full), retry µs
// (until one token, on a refusal)} and writes only when it grants.
const GCRALua = `
local function gcra(base, key_id, rate, burst, now_us)
  if not rate or rate <= 0 or not burst or burst <= 0 then
    return {0, 0, 0, 0}
  end
  local key = base .. ':rl:' .. key_id
  local emission = 1000000 / rate
  local tolerance = emission * burst
  local tat = now_us
  local stored = tonumber(redis.call('GET', key) or '')
  if stored and stored > now_us then
    tat = stored
  end
  local new_tat = tat + emission
  local diff = now_us - (new_tat - tolerance)
  if diff < 0 then
    return {0, 0, math.ceil(tat - now_us), math.ceil(-diff)}
  end
  local reset = math.ceil(new_tat - now_us)
  redis.call('SET', key, string.format('%.0f', math.ceil(new_tat)), 'PX', math.ceil(reset / 1000) + 1)
  return {1, math.floor(diff / emission + 1e-9), reset, 0}
end
`

// RedisTimeLua sets now_us, the Redis server's clock in unix microseconds
// (exact in a Lua number until the year 2255).
const RedisTimeLua = `
local redis_time = redis.call('TIME')
local now_us = tonumber(redis_time[1]) * 1000000 + tonumber(redis_time[2])
`

var allowScript = redis.NewScript(GCRALua + RedisTimeLua + `
return gcra(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), now_us)
`)

// TenantTag is the Redis Cluster hash tag of a tenant: every key of the
// tenant's rate limits and quota carries it, so one script touches one slot.
func TenantTag(tenant string) string { return "{t:" + tenant + "}" }

// Redis keeps the fleet's one bucket per key in Redis (GCRA, one script
// call per token). While Redis fails, times out or its breaker is open,
// each replica falls back to a bucket of its own at rate/N and burst/N (at
// least 1), N the fleet's size, so the fleet as a whole stays near the
// key's rate. Safe for concurrent use.
type Redis struct {
	conns    *stores.Conns
	tenantOf func(keyID string) string
	replicas int
	local    *Limiters
	fallback atomic.Int64
}

// NewRedis keeps the buckets on c's Redis. tenantOf names a key's tenant
// ("" when unknown): a key's bucket lives under its tenant's hash tag,
// where the quota's combined call (admission.RateQuota) takes the same
// key's tokens. nil tenantOf tags each bucket with its key.
func NewRedis(c *stores.Conns, tenantOf func(keyID string) string) *Redis {
	return &Redis{conns: c, tenantOf: tenantOf, replicas: max(1, c.Config.Replicas), local: New()}
}

// Base is the key every Redis key of tenant starts with (its hash tag).
func (r *Redis) Base(tenant string) string { return r.conns.Key(TenantTag(tenant)) }

// keyBase is the base of keyID's bucket: its tenant's, or a tag of the
// key's own when the tenant is unknown.
func (r *Redis) keyBase(keyID string) string {
	if r.tenantOf != nil {
		if t := r.tenantOf(keyID); t != "" {
			return r.Base(t)
		}
	}
	return r.conns.Key("{k:" + keyID + "}")
}

// Allow takes one token from keyID's bucket in Redis, or from the local
// fallback bucket when Redis cannot answer. now is used only by the
// fallback: Redis's clock rules the shared bucket.
func (r *Redis) Allow(keyID string, rate float64, burst int, now time.Time) Decision {
	var res []any
	err := r.conns.RedisGuard.Do(context.Background(), func(ctx context.Context) error {
		var err error
		res, err = allowScript.Run(ctx, r.conns.Redis, []string{r.keyBase(keyID)}, keyID, rate, burst).Slice()
		return err
	})
	if err == nil {
		var d Decision
		if d, err = DecisionOf(res, burst); err == nil {
			return d
		}
	}
	return r.Fallback(keyID, rate, burst, now)
}

// Fallback takes a token from keyID's local bucket, sized for one replica
// of N, and counts the fallback.
func (r *Redis) Fallback(keyID string, rate float64, burst int, now time.Time) Decision {
	r.fallback.Add(1)
	n := r.replicas
	return r.local.Allow(keyID, rate/float64(n), max(1, burst/n), now)
}

// Fallbacks counts the decisions made by the local fallback since start.
func (r *Redis) Fallbacks() int64 { return r.fallback.Load() }

// Prune forgets the local fallback buckets of keys for which keep is
// false; the shared buckets expire in Redis once full.
func (r *Redis) Prune(keep func(keyID string) bool) { r.local.Prune(keep) }

// DecisionOf reads gcra's answer {allowed, remaining, reset µs, retry µs}
// for a bucket of burst.
func DecisionOf(v []any, burst int) (Decision, error) {
	if len(v) != 4 {
		return Decision{}, fmt.Errorf("ratelimit: redis: unexpected answer %v", v)
	}
	var n [4]int64
	for i := range n {
		x, ok := v[i].(int64)
		if !ok {
			return Decision{}, fmt.Errorf("ratelimit: redis: unexpected answer %v", v)
		}
		n[i] = x
	}
	d := Decision{Allowed: n[0] == 1, Limit: burst, Remaining: int(n[1]), Reset: time.Duration(n[2]) * time.Microsecond}
	if !d.Allowed {
		d.RetryAfter = time.Duration(n[3]) * time.Microsecond
	}
	return d, nil
}

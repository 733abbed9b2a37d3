package quota

import (
	"github.com/redis/go-redis/v9"

	"github.com/idgate/idgate/gateway/ratelimit"
)

// The quota's keys of one tenant and day, all under the tenant's hash tag
// (base = prefix:{t:<tenant>}), so each script touches one slot:
//
//	base:q:<day>:seed      the seed marker: the epoch of the seeding in force
//	base:q:<day>:used      hash: "t" the tenant's used units, "k:<key>" each key's
//	base:q:<day>:lt        zset of the tenant's leases (member lease id, score expiry ms)
//	base:q:<day>:lk:<key>  zset of the key's leases
//
// The scripts name these keys from KEYS[1]: they share its slot, so a
// Redis Cluster runs each script on the one node that owns the tenant.
// A counter's units taken are its used count plus its live leases. The
// seeding gives the marker and the used counts their expiry, dayTTL later;
// a reservation renews its lease sets' (a set emptied by its settlements
// is gone, and the next lease makes it anew). A day's keys outlive the day
// by far more than any lease.

// scriptBody runs after the settlements the call carries, then does op:
//
//	KEYS[1] base
//	ARGV    op ('s' settle only, 'r' reserve, 'ar' rate token and reserve,
//	        'u' usage), ttl ms, n, then n settlements of 5 values (kind 'c'
//	        commit / 'r' release, day, key, lease, epoch), then op's own:
//	        r/ar: day, key, tenant quota, key quota, lease, hold ms[, rate, burst]
//	        u:    day, counter suffix ('lt' or 'lk:<key>'), used field
//
// Answers: s {'OK'}; r/ar {status, epoch, allowed, remaining, reset µs,
// retry µs} with status OK, KEY, TENANT or RATE, or {'NEEDSEED'} when the
// day's marker is missing (nothing else done: no token, no lease); u
// {used, reserved}, expired leases counted as used.
//
// A settlement is exactly once per lease: commit removes the lease from
// both counters' sets and adds a used unit to each set it was in; release
// only removes. A commit whose epoch differs from the marker's (or finds
// no marker) was reserved before a reseed the ledger may not have shown it
// to: it adds its unit anyway (a double count is the safe side). An empty
// epoch (a ticket rebuilt from a session record) adds nothing: the seeding
// counted the open sessions. Expired leases are settled as used (nobody
// settled them; the authority may have billed them).
//
// The script raises no Lua error after its first write (a failed script
// keeps its earlier writes): every value is checked before use.
const scriptBody = `
local base = KEYS[1]
local op = ARGV[1]
local ttl = tonumber(ARGV[2])
local now_ms = math.floor(now_us / 1000)

local function qk(day, s) return base .. ':q:' .. day .. ':' .. s end

local function settle_expired(z, used, field)
  local n = redis.call('ZREMRANGEBYSCORE', z, '-inf', now_ms)
  if n > 0 then redis.call('HINCRBY', used, field, n) end
end

-- The day's seed marker, read once per day a call touches.
local seeds = {}
local function seed_of(day)
  local v = seeds[day]
  if v == nil then
    v = redis.call('GET', qk(day, 'seed'))
    seeds[day] = v
  end
  return v
end

local i = 4
for _ = 1, tonumber(ARGV[3]) do
  local kind, day, key, lease, epoch = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  i = i + 5
  local used = qk(day, 'used')
  local stale = kind == 'c' and epoch ~= '' and epoch ~= seed_of(day)
  local sets = {{qk(day, 'lt'), 't'}, {qk(day, 'lk:' .. key), 'k:' .. key}}
  for _, c in ipairs(sets) do
    local removed = redis.call('ZREM', c[1], lease)
    if kind == 'c' and (removed == 1 or stale) then
      redis.call('HINCRBY', used, c[2], 1)
    end
  end
  -- A stale commit may create the day's count before (or long after) its
  -- seeding: it gives it the day's expiry. Otherwise the seeding did.
  if stale then redis.call('PEXPIRE', used, ttl) end
end

if op == 's' then return {'OK'} end

if op == 'u' then
  local day, suffix, field = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local z = qk(day, suffix)
  local used = tonumber(redis.call('HGET', qk(day, 'used'), field) or '') or 0
  used = used + redis.call('ZCOUNT', z, '-inf', now_ms)
  return {used, redis.call('ZCOUNT', z, '(' .. now_ms, '+inf')}
end

local day, key = ARGV[i], ARGV[i + 1]
local tq, kq = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
local lease, hold = ARGV[i + 4], tonumber(ARGV[i + 5])
local epoch = seed_of(day)
if not epoch then return {'NEEDSEED'} end

local rl = {1, 0, 0, 0}
if op == 'ar' then
  rl = gcra(base, key, tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7]), now_us)
  if rl[1] == 0 then return {'RATE', epoch, rl[1], rl[2], rl[3], rl[4]} end
end

local used, lt, lk = qk(day, 'used'), qk(day, 'lt'), qk(day, 'lk:' .. key)
settle_expired(lt, used, 't')
settle_expired(lk, used, 'k:' .. key)
local status = 'OK'
if not redis.call('ZSCORE', lk, lease) then
  local u = redis.call('HMGET', used, 't', 'k:' .. key)
  if kq > 0 and (tonumber(u[2] or '') or 0) + redis.call('ZCARD', lk) >= kq then
    status = 'KEY'
  elseif tq > 0 and (tonumber(u[1] or '') or 0) + redis.call('ZCARD', lt) >= tq then
    status = 'TENANT'
  end
end
if status == 'OK' then
  local expiry = now_ms + hold
  redis.call('ZADD', lt, expiry, lease)
  redis.call('ZADD', lk, expiry, lease)
  redis.call('PEXPIRE', lt, ttl)
  redis.call('PEXPIRE', lk, ttl)
end
return {status, epoch, rl[1], rl[2], rl[3], rl[4]}
`

// quotaScript is the one script of every quota call: the rate-limit token
// (ratelimit.GCRALua, the same algorithm as the standalone limiter), the
// settlements and the reservation, in one round trip.
var quotaScript = redis.NewScript(ratelimit.GCRALua + ratelimit.RedisTimeLua + scriptBody)

// seedScript seeds a tenant's day once: the first seeder's epoch and
// counts win; a later one gets the epoch in force and changes nothing.
// Counts are added (not set): a stale commit that arrived before the
// seeding (the marker was missing) stays counted.
//
//	KEYS[1] base; ARGV day, epoch, ttl ms, tenant used, then key, used pairs
const seedBody = `
local base, day = KEYS[1], ARGV[1]
local marker = base .. ':q:' .. day .. ':seed'
local cur = redis.call('GET', marker)
if cur then return cur end
local used = base .. ':q:' .. day .. ':used'
local ttl = tonumber(ARGV[3])
local t = tonumber(ARGV[4])
redis.call('HINCRBY', used, 't', t) -- creates the hash, so it carries the day's expiry
for j = 5, #ARGV - 1, 2 do
  local n = tonumber(ARGV[j + 1])
  if n > 0 then redis.call('HINCRBY', used, 'k:' .. ARGV[j], n) end
end
redis.call('PEXPIRE', used, ttl)
redis.call('SET', marker, ARGV[2], 'PX', ttl)
return ARGV[2]
`

var seedScript = redis.NewScript(seedBody)

package admission

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/ratelimit"
)

// Header names in fasthttp's canonical form, so setting them skips
// normalisation (HTTP header names are case-insensitive on the wire).
var (
	hdrRateLimitLimit     = []byte("Ratelimit-Limit")
	hdrRateLimitRemaining = []byte("Ratelimit-Remaining")
	hdrRateLimitReset     = []byte("Ratelimit-Reset")
	hdrRequestID          = []byte("X-Request-Id")
)

// RateLimit is step 2: one token from the key's bucket. Every answer
// carries the RateLimit-* headers; a refusal is 429 too_many_requests with
// Retry-After, recorded as rate_limited, and RateLimit returns false.
func (g *Gate) RateLimit(x *Exchange) bool {
	return g.applyRate(x, g.Limits.Allow(x.Key.ID, x.Key.Rate, x.Key.Burst, x.Start))
}

// applyRate writes d's RateLimit-* headers and refuses the request when d
// did not grant the token.
func (g *Gate) applyRate(x *Exchange, d ratelimit.Decision) bool {
	h := &x.Ctx.Response.Header
	var buf [20]byte // strconv.Itoa would allocate for every value above 99
	h.SetCanonical(hdrRateLimitLimit, strconv.AppendInt(buf[:0], int64(d.Limit), 10))
	h.SetCanonical(hdrRateLimitRemaining, strconv.AppendInt(buf[:0], int64(d.Remaining), 10))
	h.SetCanonical(hdrRateLimitReset, strconv.AppendInt(buf[:0], int64(ceilSeconds(d.Reset)), 10))
	if d.Allowed {
		return true
	}
	h.Set(fasthttp.HeaderRetryAfter, strconv.Itoa(ceilSeconds(d.RetryAfter)))
	g.Refuse(x, billing.RateLimited, contracts.ErrTooManyRequests, "")
	return false
}

// Admit runs steps 1 and 2, the part every request of a tenant route
// takes, billed or not.
func (g *Gate) Admit(x *Exchange) bool {
	return g.Authenticate(x) && g.RateLimit(x)
}

// AdmitDeferringRate is Admit for a route whose work up to Reserve is
// local (decoding, validation, the cache): with a RateQuota store, step
// 2's token is taken in Reserve's call, one round trip for both. The
// order a client sees does not change: a request over its rate is refused
// 429 whatever its body, and never reaches the upstream or the quota — a
// request that ends before Reserve takes its token before its answer is
// written (takeDeferredRate).
func (g *Gate) AdmitDeferringRate(x *Exchange) bool {
	if !g.Authenticate(x) {
		return false
	}
	if g.RateQuota == nil {
		return g.RateLimit(x)
	}
	x.rateDeferred = true
	return true
}

// resolveRate takes a deferred token now (before a step that is not
// local, such as an Idempotency-Key claim); false when it refused.
func (g *Gate) resolveRate(x *Exchange) bool {
	if !x.rateDeferred {
		return true
	}
	x.rateDeferred = false
	return g.RateLimit(x)
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

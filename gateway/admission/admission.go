// Package admission is the one path every billed API takes through the
// gateway: the check routes, the verification sessions, and any dialect
// added later call these steps, in this order, and nothing else decides
// who may spend the authority's money.
//
//  1. Authenticate  the tenant's key (401 invalid_token)          authenticate.go
//  2. Rate-limit    the key's token bucket (429, RateLimit-*)      ratelimit.go
//  3. Idempotency   replay, wait for or claim an Idempotency-Key  idempotency.go
//  4. Reserve       a unit of the key's and tenant's daily quota  quota.go
//     …             the route's own work: decode, validate, cache, forward
//  5. Classify      the answer with the route's billing table (the route)
//  6. Settle        commit the unit when billed, release it otherwise
//  7. Record        the ledger entry, then respond                 record.go
//
// A handler starts with NewExchange and defers End (recover.go): whatever
// happens in between, including a panic, the request ends answered, its
// idempotency record settled and its quota unit not leaked.
//
// Each step's store is a small interface declared here, its consumer; the
// embedded implementations live in their own packages (auth, ratelimit,
// idempotency, quota, ledger) and a shared-store implementation needs
// nothing from this package but these signatures.
package admission

import (
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/idempotency"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/ratelimit"
)

// Authenticator finds the active key of an Authorization header.
type Authenticator interface {
	Authenticate(authorization []byte) (*auth.Key, bool)
}

// RateLimiter takes one token from a key's bucket.
type RateLimiter interface {
	Allow(keyID string, rate float64, burst int, now time.Time) ratelimit.Decision
}

// IdempotencyStore remembers answers per tenant and Idempotency-Key. nil
// in Gate: the header is ignored.
type IdempotencyStore interface {
	Begin(tenant, key string, fp idempotency.Fingerprint) idempotency.Result
	Complete(c idempotency.Claim, a idempotency.Answer)
	Abandon(c idempotency.Claim)
}

// Quota reserves, commits and releases daily units. Reserve's error means
// the store could not count (a shared store down): nothing is admitted.
// Commit and Release never fail the request: a shared store that cannot
// take them now settles them later (leases), never loses them.
type Quota interface {
	Reserve(l quota.Limits, now time.Time) (quota.Ticket, quota.Scope, error)
	Commit(quota.Ticket)
	Release(quota.Ticket)
}

// RateQuota takes a key's rate-limit token and reserves its quota units
// in one call: a shared store's one round trip for steps 2 and 4. The
// quota is reserved only when the token was granted. An error is the
// quota's (the rate decision is then the store's fallback's).
type RateQuota interface {
	AllowReserve(keyID string, rate float64, burst int, l quota.Limits, now time.Time) (ratelimit.Decision, quota.Ticket, quota.Scope, error)
}

// Ledger records entries. Intend makes the intent of a request that is
// about to go upstream durable and holds a place for its outcome; an error
// means the request must not go. Record stores an entry, the outcome of an
// intent (Intended) without ever waiting; an error for such an entry, or
// one that used a quota unit, means it is not durable and its answer must
// not be given. Other entries may wait (backpressure), never drop.
type Ledger interface {
	Intend(ledger.Entry) error
	Record(ledger.Entry) error
}

// Calendar names the quota day.
type Calendar interface {
	Day(now time.Time) string
}

// Metrics observes finished requests and upstream calls.
type Metrics interface {
	Observe(route, class, tenant string, d time.Duration)
	ObserveUpstream(route string, d time.Duration)
}

// RequestIDs makes the gateway's request ids (X-Request-Id, trace_id).
type RequestIDs interface{ Next() string }

// Dialect is the language a route speaks to its clients when it is not
// the aggregator's (contracts), the gateway's own: how a request proves
// its key, and how the aggregator's answers and errors read in it. The
// steps stay the same; only the words at the edge change. nil in an
// Exchange is the aggregator's dialect.
type Dialect interface {
	// Authenticate finds the active key of the request; when there is
	// none it returns the refusal's status and body instead.
	Authenticate(x *Exchange) (key *auth.Key, status int, body []byte)
	// Error renders one of the contract's errors.
	Error(code contracts.ErrorCode, message, requestID string) (status int, body []byte)
	// Answer renders an answer given in the aggregator's form (an
	// upstream's or a local one, success or error).
	Answer(status int, contentType string, body []byte, requestID string) (int, string, []byte)
}

// Gate holds the steps' stores. All are required but Idempotency.
type Gate struct {
	Auth     Authenticator
	Limits   RateLimiter
	Quota    Quota
	Ledger   Ledger
	Calendar Calendar
	Metrics  Metrics
	IDs      RequestIDs
	Log      *slog.Logger
	Now      func() time.Time

	// Idempotency is the Idempotency-Key store (nil: the header is
	// ignored); IdempotencyWait bounds how long a duplicate waits for the
	// first request (0: 30 s).
	Idempotency     IdempotencyStore
	IdempotencyWait time.Duration

	// RateQuota, when set, lets a route that reserves quota take its
	// rate-limit token in the same call (AdmitDeferringRate).
	RateQuota RateQuota
}

// Exchange is one request's state as it moves through the steps. The
// route's work fills Result, IDMasked, UpstreamLatency, Attempts and
// UpstreamID; the ledger entry is made of them.
type Exchange struct {
	Ctx       *fasthttp.RequestCtx
	Route     string
	Start     time.Time
	RequestID string
	// Key is the authenticated key (nil before step 1 succeeds).
	Key *auth.Key
	// Dialect is the route's client-facing dialect (nil: the aggregator's).
	Dialect Dialect

	Result          string
	IDMasked        string
	UpstreamLatency time.Duration
	Attempts        int
	// UpstreamID is the id the upstream gave its answer, so a line of the
	// authority's statement can be matched to this request's entry.
	UpstreamID string

	ticket quota.Ticket
	held   bool // ticket is reserved and not yet settled or taken
	// rateDeferred: step 2's token is still to be taken, with the quota's
	// reservation (Reserve) or, when the request ends before that, by
	// itself before the answer is written (FinishRendered).
	rateDeferred bool
	intended     bool // step 5 ran: the outcome fills the place it holds
	idem         idempotency.Claim
	idemLead     bool // this request leads an Idempotency-Key record
	finished     bool // step 8 ran: the answer is written and recorded
	// day is the quota day of Start, named once for the intent and the
	// outcome, which therefore always land on the same day.
	day string
	// repeated are the single-valued headers the request repeats.
	repeated contracts.HeaderSet
}

// NewExchange starts a request on route: it stamps the time and the
// request id, which every answer carries in X-Request-Id.
func (g *Gate) NewExchange(ctx *fasthttp.RequestCtx, route string) Exchange {
	x := Exchange{Ctx: ctx, Route: route, Start: g.Now(), RequestID: g.IDs.Next()}
	ctx.Response.Header.SetCanonical(hdrRequestID, s2b(x.RequestID))
	return x
}

// Tenant is the authenticated tenant's id ("" before step 1).
func (x *Exchange) Tenant() string {
	if x.Key == nil {
		return ""
	}
	return x.Key.Tenant.ID
}

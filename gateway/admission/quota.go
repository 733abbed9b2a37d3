package admission

import (
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/ratelimit"
)

// Reserve is step 4: one unit of the key's and the tenant's daily quota,
// held by the exchange until Settle (or TakeTicket) decides it. A request
// with no unit left is answered 402 used_up (not 429: the authority's SDKs
// retry 429), recorded as quota_exceeded, and Reserve returns false.
//
// A store that cannot count (a shared store down or slow) admits nothing:
// 503 service_unavailable with Retry-After, recorded as
// store_unavailable. With a deferred rate-limit token (AdmitDeferringRate)
// the token and the units are taken in one call, and a refused token is
// answered 429 before any unit is reserved.
func (g *Gate) Reserve(x *Exchange) bool {
	return g.ReserveFor(x, 0)
}

// ReserveFor is Reserve for a unit held up to hold before it is settled
// (a session's); 0 is a request's own bound.
func (g *Gate) ReserveFor(x *Exchange, hold time.Duration) bool {
	k := x.Key
	l := quota.Limits{
		TenantID: k.Tenant.ID, TenantQuota: k.Tenant.DailyQuota, KeyID: k.ID, KeyQuota: k.DailyQuota,
		Lease: x.RequestID, Hold: hold,
	}
	var (
		ticket quota.Ticket
		scope  quota.Scope
		err    error
	)
	if x.rateDeferred {
		x.rateDeferred = false
		var d ratelimit.Decision
		d, ticket, scope, err = g.RateQuota.AllowReserve(k.ID, k.Rate, k.Burst, l, x.Start)
		if !g.applyRate(x, d) {
			return false
		}
	} else {
		ticket, scope, err = g.Quota.Reserve(l, x.Start)
	}
	if err != nil {
		x.Result = ""
		g.logStoreRefusal(x, "quota", err)
		x.Ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
		g.Refuse(x, billing.StoreUnavailable, contracts.ErrServiceUnavailable,
			"The gateway cannot count the daily quota right now; nothing was sent to the authority; retry later")
		return false
	}
	if scope != quota.ScopeNone {
		x.Result = ""
		g.Refuse(x, billing.QuotaExceeded, contracts.ErrUsedUp, "The daily verification quota of this "+string(scope)+" is used up")
		return false
	}
	x.ticket, x.held = ticket, true
	return true
}

// Settle is step 7: the held unit is committed when the answer used it
// (billed, or a cached answer the tenant's policy counts) and released
// otherwise. Without a held unit it does nothing.
func (g *Gate) Settle(x *Exchange, used bool) {
	if !x.held {
		return
	}
	x.held = false
	if used {
		g.Quota.Commit(x.ticket)
	} else {
		g.Quota.Release(x.ticket)
	}
}

// TakeTicket hands the held unit to the caller, who settles it later (a
// session holds its unit until its outcome is known). End no longer
// releases it.
func (x *Exchange) TakeTicket() quota.Ticket {
	t := x.ticket
	x.ticket, x.held = quota.Ticket{}, false
	return t
}

// storeRefusalLogged rate-limits the log line of refusals for a shared
// store that is down to one a second: it refuses every billable request.
var storeRefusalLogged atomic.Int64

func (g *Gate) logStoreRefusal(x *Exchange, concern string, err error) {
	now := g.Now().Unix()
	if last := storeRefusalLogged.Load(); last != now && storeRefusalLogged.CompareAndSwap(last, now) {
		g.Log.Error("shared store unavailable; refusing billable requests before they go upstream",
			"request_id", x.RequestID, "route", x.Route, "concern", concern, "err", err)
	}
}

package admission

import (
	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/quota"
)

// Reserve is step 4: one unit of the key's and the tenant's daily quota,
// held by the exchange until Settle (or TakeTicket) decides it. A request
// with no unit left is answered 402 used_up (not 429: the authority's SDKs
// retry 429), recorded as quota_exceeded, and Reserve returns false.
func (g *Gate) Reserve(x *Exchange) bool {
	k := x.Key
	ticket, scope := g.Quota.Reserve(quota.Limits{
		TenantID: k.Tenant.ID, TenantQuota: k.Tenant.DailyQuota, KeyID: k.ID, KeyQuota: k.DailyQuota,
	}, x.Start)
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

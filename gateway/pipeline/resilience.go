package pipeline

import (
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/cache"
	"github.com/idgate/idgate/gateway/idempotency"
	"github.com/idgate/idgate/gateway/quota"
)

// Cache is the response cache (gateway/cache). nil: no cache.
type Cache interface {
	Key(tenant, route string, r *contracts.CheckRequest) (cache.Lookup, bool)
	Get(l cache.Lookup) (body []byte, result string, ok bool)
	Put(l cache.Lookup, route, result string, body []byte) bool
	CountsQuota(tenant string) bool
}

// IdempotencyStore remembers answers per tenant and Idempotency-Key
// (gateway/idempotency). nil: the header is ignored.
type IdempotencyStore interface {
	Begin(tenant, key string, fp idempotency.Fingerprint) idempotency.Result
	Complete(c idempotency.Claim, a idempotency.Answer)
	Abandon(c idempotency.Claim)
}

var (
	hdrIdempotencyKey      = []byte("Idempotency-Key")
	hdrIdempotentReplayed  = []byte("Idempotent-Replayed")
	maxIdempotencyKeyBytes = 255
)

// idempotent handles the Idempotency-Key header. It returns true when it
// answered (a replay, a mismatch, a bad key); otherwise the request runs
// and, when it led, finish settles its record.
func (p *Pipeline) idempotent(x *exchange, rt *Route) bool {
	raw := x.ctx.Request.Header.PeekBytes(hdrIdempotencyKey)
	if len(raw) == 0 {
		return false
	}
	if len(raw) > maxIdempotencyKeyBytes || !printable(raw) {
		p.refuse(x, billing.LocalReject, contracts.ErrTokenMismatched, "Idempotency-Key must be 1 to 255 printable ASCII characters")
		return true
	}
	key := string(raw)
	fp := idempotency.NewFingerprint(rt.Path, x.ctx.Request.Body())
	// A duplicate waits at most this long for the first request per round;
	// the first is itself bounded by the retry deadline.
	wait := p.IdempotencyWait
	if wait <= 0 {
		wait = 30 * time.Second
	}
	for {
		r := p.Idempotency.Begin(x.key.Tenant.ID, key, fp)
		switch r.State {
		case idempotency.Lead:
			x.idem, x.idemLead = r.Claim, true
			return false
		case idempotency.Full:
			p.Log.Warn("idempotency store full of running requests; running without a record", "request_id", x.requestID, "tenant", x.key.Tenant.ID)
			return false
		case idempotency.Mismatch:
			p.refuse(x, billing.LocalReject, contracts.ErrTokenMismatched,
				"Idempotency-Key was already used with a different request body; use a new key for a new request")
			return true
		case idempotency.Replay:
			a := r.Answer
			x.result = a.Result
			x.ctx.Response.Header.SetCanonical(hdrIdempotentReplayed, []byte("true"))
			p.finish(x, billing.Replayed, a.Status, a.ContentType, a.Body)
			return true
		case idempotency.Wait:
			t := time.NewTimer(wait)
			select {
			case <-r.Done:
				t.Stop()
			case <-t.C:
				// The first is still running far past its own deadline:
				// do not wait forever, and do not run a second charge.
				x.ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
				p.refuse(x, billing.RateLimited, contracts.ErrTooManyRequests,
					"a request with this Idempotency-Key is still being answered; retry later")
				return true
			}
		}
	}
}

// settleIdempotency stores the leader's answer, or abandons the record
// when the answer was one of the gateway's own failures that a retry
// should not inherit.
func (p *Pipeline) settleIdempotency(x *exchange, class billing.Class, status int, contentType string, body []byte) {
	if !x.idemLead {
		return
	}
	x.idemLead = false
	switch class {
	case billing.Billed, billing.Cached, billing.CachedQuota, billing.NotBilled, billing.LocalReject:
		p.Idempotency.Complete(x.idem, idempotency.Answer{Status: status, ContentType: contentType, Body: body, Result: x.result})
	default:
		p.Idempotency.Abandon(x.idem)
	}
}

// abandonUnsettled releases the record of a request that never reached
// finish.
func (p *Pipeline) abandonUnsettled(x *exchange) {
	if x.idemLead {
		x.idemLead = false
		p.Idempotency.Abandon(x.idem)
	}
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// serveCached answers from the cache when it can; it returns true when it
// answered (a hit, or a hit refused by the quota).
func (p *Pipeline) serveCached(x *exchange, rt *Route, req *contracts.CheckRequest, client *fieldcrypto.Session) bool {
	look, ok := p.Cache.Key(x.key.Tenant.ID, rt.Name, req)
	if !ok {
		return false
	}
	x.lookup = look
	body, result, hit := p.Cache.Get(look)
	if !hit {
		return false
	}
	if client != nil {
		// A terminated request: seal the cached plain answer's fields for
		// the client, with its own key (gateway/encryption).
		var resp contracts.CheckResponse
		sealed, err := []byte(nil), json.Unmarshal(body, &resp)
		if err == nil {
			sealed, err = rt.Crypto.Answer(nil, resp, req, client)
		}
		if err != nil {
			return false // answered by the upstream instead
		}
		body = sealed
	}
	x.result = result
	if p.Cache.CountsQuota(x.key.Tenant.ID) {
		ticket, scope := p.Quota.Reserve(quota.Limits{
			TenantID: x.key.Tenant.ID, TenantQuota: x.key.Tenant.DailyQuota, KeyID: x.key.ID, KeyQuota: x.key.DailyQuota,
		}, x.start)
		if scope != quota.ScopeNone {
			x.result = ""
			p.refuse(x, billing.QuotaExceeded, contracts.ErrUsedUp, "The daily verification quota of this "+string(scope)+" is used up")
			return true
		}
		p.Quota.Commit(ticket)
		p.finish(x, billing.CachedQuota, fasthttp.StatusOK, "application/json", body)
		return true
	}
	p.finish(x, billing.Cached, fasthttp.StatusOK, "application/json", body)
	return true
}

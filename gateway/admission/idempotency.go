package admission

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/idempotency"
)

var (
	hdrIdempotencyKey     = []byte("Idempotency-Key")
	hdrIdempotentReplayed = []byte("Idempotent-Replayed")
)

// MaxIdempotencyKeyBytes bounds an Idempotency-Key header.
const MaxIdempotencyKeyBytes = 255

// defaultIdempotencyWait bounds a duplicate's wait when Gate does not say.
const defaultIdempotencyWait = 30 * time.Second

// Idempotent is step 3, for requests that change something (a check, a
// session create): a repeat of an answered Idempotency-Key gets the stored
// answer (no upstream call, no charge, class replayed), a concurrent
// repeat waits for the first, the same key with another request is 400
// token_mismatched. path and body identify the request; only their hash is
// kept. It returns false when it answered; otherwise the request runs and,
// when it leads the key's record, Finish stores its answer.
func (g *Gate) Idempotent(x *Exchange, path string, body []byte) bool {
	if g.Idempotency == nil {
		return true
	}
	raw := x.Ctx.Request.Header.PeekBytes(hdrIdempotencyKey)
	if len(raw) == 0 {
		return true
	}
	if len(raw) > MaxIdempotencyKeyBytes || !printable(raw) {
		g.Refuse(x, billing.LocalReject, contracts.ErrTokenMismatched, "Idempotency-Key must be 1 to 255 printable ASCII characters")
		return false
	}
	// A claim is a store's work, not local: a deferred token is taken
	// first, so a request over its rate never claims a key.
	if !g.resolveRate(x) {
		return false
	}
	key := string(raw)
	fp := idempotency.NewFingerprint(path, body)
	// The first request is itself bounded by the retry deadline; a
	// duplicate never waits longer than this in all (a shared store
	// answers Wait for a short poll at a time, so the bound is the
	// whole wait's, not one round's).
	wait := g.IdempotencyWait
	if wait <= 0 {
		wait = defaultIdempotencyWait
	}
	giveUp := time.Now().Add(wait)
	for {
		r := g.Idempotency.Begin(x.Key.Tenant.ID, key, fp)
		switch r.State {
		case idempotency.Lead:
			x.idem, x.idemLead = r.Claim, true
			return true
		case idempotency.Unavailable:
			// A shared store that does not answer: running without a
			// record could charge a retry twice, so nothing runs.
			g.logStoreRefusal(x, "idempotency", r.Err)
			x.Ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
			g.Refuse(x, billing.StoreUnavailable, contracts.ErrServiceUnavailable,
				"The gateway cannot check the Idempotency-Key right now; nothing was sent to the authority; retry later")
			return false
		case idempotency.Full:
			g.Log.Warn("idempotency store full of running requests; running without a record", "request_id", x.RequestID, "tenant", x.Key.Tenant.ID)
			return true
		case idempotency.Mismatch:
			g.Refuse(x, billing.LocalReject, contracts.ErrTokenMismatched,
				"Idempotency-Key was already used with a different request body; use a new key for a new request")
			return false
		case idempotency.Replay:
			a := r.Answer
			x.Result = a.Result
			x.Ctx.Response.Header.SetCanonical(hdrIdempotentReplayed, []byte("true"))
			g.FinishRendered(x, billing.Replayed, a.Status, a.ContentType, a.Body)
			return false
		case idempotency.Wait:
			t := time.NewTimer(max(time.Until(giveUp), 0))
			select {
			case <-r.Done:
				t.Stop()
			case <-t.C:
				// The first is still running far past its own deadline:
				// do not wait forever, and do not run a second charge.
				x.Ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
				g.Refuse(x, billing.RateLimited, contracts.ErrTooManyRequests,
					"a request with this Idempotency-Key is still being answered; retry later")
				return false
			}
		}
	}
}

// settleIdempotency stores the leader's answer, or abandons the record
// when the answer was one of the gateway's own failures that a retry
// should not inherit (upstream errors, open breaker, rate limit, quota).
func (g *Gate) settleIdempotency(x *Exchange, class billing.Class, status int, contentType string, body []byte) {
	if !x.idemLead {
		return
	}
	x.idemLead = false
	switch class {
	case billing.Billed, billing.Cached, billing.CachedQuota, billing.NotBilled, billing.LocalReject:
		g.Idempotency.Complete(x.idem, idempotency.Answer{Status: status, ContentType: contentType, Body: body, Result: x.Result})
	default:
		g.Idempotency.Abandon(x.idem)
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

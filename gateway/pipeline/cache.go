package pipeline

import (
	"encoding/json"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/cache"
)

// Cache is the response cache of definitive answers (gateway/cache).
type Cache interface {
	Key(tenant, route string, r *contracts.CheckRequest) (cache.Lookup, bool)
	Get(l cache.Lookup) (body []byte, result string, ok bool)
	Put(l cache.Lookup, route, result string, body []byte) bool
	CountsQuota(tenant string) bool
}

// serveCached answers from the cache when it can and returns true when it
// answered (a hit, or a hit the quota refused). On a miss *look holds the
// request's cache key, for the flight and for storing the answer.
func (p *Pipeline) serveCached(x *admission.Exchange, rt *Route, req *contracts.CheckRequest, client *fieldcrypto.Session, look *cache.Lookup) bool {
	l, ok := p.Cache.Key(x.Key.Tenant.ID, rt.Name, req)
	if !ok {
		return false
	}
	*look = l
	body, result, hit := p.Cache.Get(l)
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
	if !p.Cache.CountsQuota(x.Key.Tenant.ID) {
		x.Result = result
		p.Finish(x, billing.Cached, fasthttp.StatusOK, "application/json", body)
		return true
	}
	// The tenant's policy counts hits against its quota: steps 4 and 6 of
	// the admission path, as for a billed answer.
	if !p.Reserve(x) {
		return true
	}
	x.Result = result
	p.Settle(x, true)
	p.Finish(x, billing.CachedQuota, fasthttp.StatusOK, "application/json", body)
	return true
}

// storeAnswer offers a billed answer of the gateway's own upstream call to
// the cache. The cache keeps the plain answer (result, description), never
// fields sealed for one data key: sealed tells that the upstream's body
// must be opened first.
func (p *Pipeline) storeAnswer(l cache.Lookup, rt *Route, req *contracts.CheckRequest, body []byte, result string, up *fieldcrypto.Session, sealed bool) {
	if sealed {
		plain, err := rt.Crypto.Reseal(nil, body, req, up, nil)
		if err != nil {
			return
		}
		body = plain
	}
	p.Cache.Put(l, rt.Name, result, body)
}

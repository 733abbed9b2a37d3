// Package billing decides what an answer costs. Each route has its own
// table of result codes because the authority's two APIs number their codes
// differently (on the validity-period API "-4" is an illegal period, "-7" no
// record, "-8" the daily limit); the gateway adds classes of its own for
// answers that never reached, or never came back from, the authority.
package billing

import (
	"fmt"
)

// Class is the billing class of one request, as the ledger records it.
type Class string

const (
	// Billed: the authority gave a chargeable verdict.
	Billed Class = "billed"
	// NotBilled: the authority answered with a non-chargeable result code.
	NotBilled Class = "not_billed"
	// LocalReject: the gateway answered invalid input itself.
	LocalReject Class = "local_reject"
	// RateLimited: refused by the key's token bucket.
	RateLimited Class = "rate_limited"
	// QuotaExceeded: refused because a daily quota is used up.
	QuotaExceeded Class = "quota_exceeded"
	// UpstreamError: HTTP error, garbage or no answer from the authority.
	UpstreamError Class = "upstream_error"
	// Cached: answered from the gateway's cache, or shared from an
	// identical concurrent request's upstream call. No upstream
	// charge; the tenant's cache policy decides whether quota counts it.
	Cached Class = "cached"
	// CachedQuota: a cached answer that used a unit of the daily quota
	// (the tenant's cache policy, count_quota). No upstream charge; the
	// quota rebuild after a restart counts it with billed.
	CachedQuota Class = "cached_quota"
	// Replayed: an Idempotency-Key repeat answered from the stored answer.
	// Never billed, never counted.
	Replayed Class = "replayed"
	// CircuitOpen: refused at once (503 service_unavailable) while the
	// circuit breaker towards the upstream is open. Not billed.
	CircuitOpen Class = "circuit_open"
	// Unknown: the request reached (or may have reached) the authority but
	// no readable verdict came back — a timeout or a lost connection after
	// the request was written, an answer that cannot be parsed or opened, a
	// call cut off by a crash. The authority may have billed it, so it keeps
	// its quota unit (never over-admit on a charge that cannot be ruled out)
	// until reconciliation with the authority's statement resolves it.
	Unknown Class = "unknown"
	// LedgerUnavailable: refused (503 service_unavailable) before anything
	// was sent upstream because the ledger could not promise to record the
	// answer (it cannot write, or its queue is full). Not billed.
	LedgerUnavailable Class = "ledger_unavailable"
	// StoreUnavailable: refused (503 service_unavailable) before anything
	// was sent upstream because a shared store that counts quota or
	// remembers Idempotency-Keys did not answer in time: never admit a
	// charge nobody counted. Not billed.
	StoreUnavailable Class = "store_unavailable"
)

// CountsQuota reports whether an entry of class c used a unit of the daily
// quota: what the counters rebuild from after a restart.
func (c Class) CountsQuota() bool { return c == Billed || c == CachedQuota || c == Unknown }

// Classes lists every class, for reports and metric pre-registration.
var Classes = []Class{Billed, NotBilled, LocalReject, RateLimited, QuotaExceeded, UpstreamError, Cached, CachedQuota, Replayed, CircuitOpen, Unknown, LedgerUnavailable, StoreUnavailable}

// Table is one route's result-code table.
type Table struct {
	results map[string]Result
}

// NewTable builds a table from a route's config.
func NewTable(r RouteConfig) (*Table, error) {
	if len(r.Results) == 0 {
		return nil, fmt.Errorf("billing: route %s has no result codes", r.Name)
	}
	m := make(map[string]Result, len(r.Results))
	for code, res := range r.Results {
		m[code] = res
	}
	return &Table{results: m}, nil
}

// Classify returns the class of a 200 answer with this result code; ok is
// false for a code the table does not know, which the caller treats as
// upstream garbage (never billed: we cannot know it is chargeable).
func (t *Table) Classify(result []byte) (c Class, ok bool) {
	r, ok := t.results[string(result)]
	if !ok {
		return UpstreamError, false
	}
	if r.Billed {
		return Billed, true
	}
	return NotBilled, true
}

// Description is the table's description of a code.
func (t *Table) Description(code string) string { return t.results[code].Description }

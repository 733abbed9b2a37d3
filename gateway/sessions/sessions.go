// Package sessions routes the verification-session API (POST
// /identity/sessions, its status, result and QR code) through the
// gateway's one admission path (gateway/admission), the one the check
// routes take: the same keys, per-key rate limits, Idempotency-Key on the
// requests that change something, the daily quota and a ledger entry per
// request. What differs is billing: a session is one billable
// verification spread over many requests, so
//
//	create       reserves one quota unit (402 used_up when none is left)
//	any poll, result fetch or upstream webhook that first shows a billed
//	outcome (approved, rejected 2006/2016) commits it and writes the one
//	billing entry; an unbilled end (failed, rejected 2005) releases it,
//	and so does expiry (regenerating the QR code reserves a unit again)
//
// The billing event is a compare-and-set on the session's row in the
// ledger's database, in the same transaction as its ledger entry, so 20
// concurrent pollers, a webhook and a restart bill it exactly once
// (billing.go). Sessions nobody polls any more are settled by the
// reconciler (reconcile.go).
//
// Sessions are scoped to the tenant that created them: the gateway answers
// 404 session_not_found for another tenant's request ID itself (upstream,
// every session belongs to the gateway's one credential). The HTTP side is
// http.go; the webhooks the gateway receives and relays, relay.go.
package sessions

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/singleflight"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/quota"
)

// Route names in the ledger and metrics. RouteBilling is the session's one
// outcome entry, keyed by the session's request ID rather than an HTTP
// request's.
const (
	RouteCreate     = "sessions.create"
	RouteStatus     = "sessions.status"
	RouteResult     = "sessions.result"
	RouteQR         = "sessions.qr"
	RouteRegenerate = "sessions.regenerate"
	RouteBilling    = "sessions"
	// WebhookPath is the gateway's receiver of the upstream's webhooks.
	WebhookPath = "/webhooks/sessions"
)

// Deps are what the session routes need beside their config.
type Deps struct {
	// Gate is the admission path shared with the check routes (the same
	// stores: keys, limits, idempotency, quota, ledger, metrics).
	*admission.Gate
	Upstream Upstream
	Store    Store
	// MaxBody bounds a create body (400 token_mismatched above it).
	MaxBody int
	// Listen is the gateway's listen address, for the default callback URL.
	Listen string
	// Identity opens the encrypted expected identity of FaceID's create
	// actions (DetectAuth, GetEidToken) with the gateway's private keys,
	// as the check routes' terminate mode does; nil: such a request is
	// answered that encryption is not enabled.
	Identity IdentityOpener
}

// IdentityOpener decrypts a request's sealed fields in place.
type IdentityOpener interface {
	Open(req *contracts.CheckRequest) (*fieldcrypto.Session, error)
}

// Service serves the session routes.
type Service struct {
	Deps
	cfg         Config
	callbackURL string
	relay       *Relay
	// fleet is Store when replicas share it (nil: one process). Then a
	// session may be created, polled and settled on different replicas:
	// see find, observe and Reconcile.
	fleet Fleet

	mu   sync.RWMutex
	byID map[string]*tracked
	// loading coalesces the store reads of one session id (find).
	loading singleflight.Group
	// creating counts creates between forwarding and storing: a webhook
	// for a session not stored yet waits for them (see receive).
	creating atomic.Int64

	stop chan struct{}
	done chan struct{}
}

// New loads the remembered sessions, re-reserves the quota units of
// today's open ones (the counters restart from the ledger's billed count
// only) and starts the reconciler.
func New(cfg Config, d Deps, relay *Relay) (*Service, error) {
	s := &Service{Deps: d, cfg: cfg, relay: relay, byID: map[string]*tracked{}, stop: make(chan struct{}), done: make(chan struct{})}
	s.callbackURL = cfg.CallbackURL
	if s.callbackURL == "" {
		s.callbackURL = "http://" + d.Listen + WebhookPath
	}
	if f, ok := d.Store.(Fleet); ok {
		// The fleet's open sessions keep their reservations in the shared
		// quota; each is loaded on demand by whichever replica is asked
		// about it, and reconciled through ClaimDue.
		s.fleet = f
		go s.maintain()
		return s, nil
	}
	recs, err := d.Store.LoadLive(context.Background())
	if err != nil {
		return nil, err
	}
	now := d.Now()
	today := d.Calendar.Day(now)
	for _, r := range recs {
		t := &tracked{rec: r, seen: now}
		if r.Status == Open && r.Day == today {
			// Limits of 0: the unit was admitted before the restart; it must
			// count again, not be refused.
			t.ticket, _, _ = d.Quota.Reserve(quota.Limits{TenantID: r.Tenant, KeyID: r.KeyID}, now)
		}
		s.byID[r.RequestID] = t
	}
	go s.maintain()
	return s, nil
}

// Close stops the reconciler.
func (s *Service) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// lookup finds a session of this tenant; err is the store's failure to
// say (nil, err: the caller answers that it cannot tell, not 404).
func (s *Service) lookup(tenant, id string) (*tracked, error) {
	t, err := s.find(id)
	if t == nil || t.rec.Tenant != tenant {
		return nil, err
	}
	return t, nil
}

// find returns a session from memory, or from the store for a settled one
// that memory let go of (see sweep). Open and expired sessions are always
// in memory in one process: they hold quota tickets. In a fleet any
// session is loaded on demand, an open one with its ticket rebuilt from
// its record (TicketOf), since another replica may have created it;
// concurrent requests for one id share one read.
func (s *Service) find(id string) (*tracked, error) {
	s.mu.RLock()
	t := s.byID[id]
	s.mu.RUnlock()
	if t != nil || id == "" || len(id) > 128 {
		return t, nil
	}
	v, err, _ := s.loading.Do(id, func() (any, error) {
		r, ok, err := s.Store.Get(context.Background(), id)
		if err != nil || !ok {
			return nil, err
		}
		return r, nil
	})
	if err != nil {
		s.Log.Error("session lookup failed", "err", err)
		return nil, err
	}
	r, ok := v.(Record)
	if !ok || (!r.Status.Final() && s.fleet == nil) {
		return nil, nil
	}
	return s.track(r), nil
}

// track returns the session of r from memory, adding it from r when
// memory does not hold it (with its ticket rebuilt when it is open).
func (s *Service) track(r Record) *tracked {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.byID[r.RequestID]
	if t == nil {
		t = &tracked{rec: r, seen: s.Now()}
		if s.fleet != nil {
			t.ticket = TicketOf(r)
		}
		s.byID[r.RequestID] = t
	}
	return t
}

// refresh reads t's record again from a fleet's store, where another
// replica may have settled, expired or reopened it; t.mu is held. It
// reports whether t now holds the stored record.
func (s *Service) refresh(t *tracked) bool {
	r, ok, err := s.Store.Get(context.Background(), t.rec.RequestID)
	if err != nil {
		s.Log.Error("session reload failed", "request_id", t.rec.RequestID, "tenant", t.rec.Tenant, "err", err)
		return false
	}
	if !ok {
		return false
	}
	// Only what changes: the rest of the record (tenant, callback, masked
	// ID) is read without t.mu and never changes.
	t.rec.Status, t.rec.Day, t.rec.Lease, t.rec.Epoch = r.Status, r.Day, r.Lease, r.Epoch
	t.rec.SettledAt = r.SettledAt
	if r.ExpiresAt.After(t.rec.ExpiresAt) {
		t.rec.ExpiresAt = r.ExpiresAt // a regeneration's deadline is not stored
	}
	t.ticket = TicketOf(r)
	return true
}

// Open counts the sessions holding a quota unit (a metric).
func (s *Service) Open() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, t := range s.byID {
		t.mu.Lock()
		if t.rec.Status == Open {
			n++
		}
		t.mu.Unlock()
	}
	return n
}

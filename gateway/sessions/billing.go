package sessions

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
)

// tracked is a session in memory: its record plus the quota ticket held
// while it is open.
type tracked struct {
	mu      sync.Mutex
	rec     Record
	ticket  quota.Ticket
	version int64 // highest upstream version seen; older news is ignored
	seen    time.Time
}

// outcome is what billing reads of a status (state, version, error) or a
// result (state, code; version absent, so 0).
type outcome struct {
	State   contracts.SessionState `json:"state"`
	Version int64                  `json:"version"`
	Code    contracts.SessionCode  `json:"code"`
	Error   *struct {
		Code contracts.SessionCode `json:"code"`
	} `json:"error"`
}

func failureCode(f *contracts.SessionFailure) contracts.SessionCode {
	if f == nil {
		return contracts.CodeOK
	}
	return f.Code
}

// observe learns a session's state from a poll, a result, a webhook or the
// reconciler, and settles its quota unit the first time an outcome shows.
// version 0 (results) skips the staleness check; results only carry final
// states, which never change.
func (s *Service) observe(t *tracked, state contracts.SessionState, code contracts.SessionCode, version int64, via string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if version > 0 {
		if version < t.version {
			return // an older event delivered late
		}
		t.version = version
	}
	now := s.Now()
	t.seen = now
	if t.rec.Status.Final() || (t.rec.Status != Open && s.fleet == nil) {
		return
	}
	var to Status
	switch state {
	case contracts.StateApproved, contracts.StateRejected:
		to = Released
		if info, ok := contracts.LookupSessionCode(code); state == contracts.StateApproved || (ok && info.Billing == contracts.Billed) {
			to = Billed
		}
	case contracts.StateFailed:
		to = Released
	case contracts.StateExpired:
		if version == 0 {
			return // without a version it may predate a regeneration
		}
		to = Expired
	default:
		return
	}
	// In a fleet an expired session may have been reopened by another
	// replica.
	if t.rec.Status != Open && (!s.refresh(t) || t.rec.Status != Open) {
		return
	}
	var entry *ledger.Entry
	if to.Final() {
		class := billing.NotBilled
		if to == Billed {
			class = billing.Billed
		}
		entry = &ledger.Entry{
			Time: now, Day: s.Calendar.Day(now), RequestID: t.rec.RequestID, Tenant: t.rec.Tenant, KeyID: t.rec.KeyID,
			Route: RouteBilling, Result: strconv.Itoa(int(code)), Class: string(class), Billed: to == Billed,
			HTTPStatus: fasthttp.StatusOK, IDMasked: t.rec.IDMasked,
		}
	}
	ok, err := s.Store.Transition(context.Background(), t.rec.RequestID, Open, to, quota.Ticket{}, now, entry)
	if err != nil {
		// Left open: the next observation tries again.
		s.Log.Error("session outcome not stored; will retry on the next observation", "request_id", t.rec.RequestID, "tenant", t.rec.Tenant, "to", to, "err", err)
		return
	}
	if !ok {
		if s.fleet != nil {
			// Another replica's compare-and-set won: it wrote the billing
			// event and settles the unit. Settling it here too would
			// count it twice.
			s.Log.Debug("session settled by another replica", "request_id", t.rec.RequestID, "tenant", t.rec.Tenant)
			if !s.refresh(t) {
				t.ticket = quota.Ticket{}
			}
			return
		}
		s.Log.Warn("session was not open in the store", "request_id", t.rec.RequestID, "tenant", t.rec.Tenant, "to", to)
	}
	if to == Billed {
		s.Quota.Commit(t.ticket)
	} else {
		s.Quota.Release(t.ticket)
	}
	t.ticket = quota.Ticket{}
	t.rec.Status = to
	s.Log.Debug("session settled", "request_id", t.rec.RequestID, "tenant", t.rec.Tenant, "status", to, "code", int(code), "via", via)
}

// hold is how long a session's quota unit may stay reserved before a
// shared quota settles it on its own, as used: the QR code's validity, the
// review, and the reconciler's delay past the QR deadline, with a margin.
// (The embedded quota holds it until it is settled.)
func (s *Service) hold() time.Duration {
	return contracts.SessionDefaultTTL + contracts.SessionDefaultReview + s.cfg.ReconcileAfter + 2*s.cfg.ReconcileInterval + 5*time.Minute
}

// Status returns the billing status of a session (tests, admin).
func (s *Service) Status(id string) (Status, bool) {
	s.mu.RLock()
	t := s.byID[id]
	s.mu.RUnlock()
	if t == nil {
		return "", false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rec.Status, true
}

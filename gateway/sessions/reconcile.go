package sessions

import (
	"context"
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
)

// maintain reconciles abandoned sessions and sweeps old ones.
func (s *Service) maintain() {
	defer close(s.done)
	tick := time.NewTicker(s.cfg.ReconcileInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			s.Reconcile()
			s.sweep()
		}
	}
}

// Reconcile polls the upstream for open sessions past their QR deadline
// that nobody asked about lately, so their quota units settle even when the
// tenant never polls again.
//
// In a fleet the store hands each replica its share of the overdue
// sessions (Fleet.ClaimDue): one replica polls each session once per
// reconcile_after, whichever replica created it, so the sessions of a
// replica that died settle too.
func (s *Service) Reconcile() {
	if s.fleet != nil {
		s.reconcileFleet()
		return
	}
	now := s.Now()
	after := s.cfg.ReconcileAfter
	var due []*tracked
	s.mu.RLock()
	for _, t := range s.byID {
		t.mu.Lock()
		if t.rec.Status == Open && now.Sub(t.rec.ExpiresAt) > after && now.Sub(t.seen) > after {
			due = append(due, t)
		}
		t.mu.Unlock()
	}
	s.mu.RUnlock()
	s.check(due)
}

// reconcileClaim bounds the sessions one replica claims per run.
const reconcileClaim = 200

func (s *Service) reconcileFleet() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	recs, err := s.fleet.ClaimDue(ctx, s.cfg.ReconcileAfter, s.cfg.ReconcileAfter, reconcileClaim)
	cancel()
	if err != nil {
		s.Log.Error("reconcile: claiming overdue sessions failed", "err", err)
		return
	}
	due := make([]*tracked, 0, len(recs))
	for _, r := range recs {
		due = append(due, s.track(r))
	}
	s.check(due)
}

// check polls the upstream for each session of due and learns its state.
func (s *Service) check(due []*tracked) {
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	for _, t := range due {
		resp.Reset()
		id := t.rec.RequestID
		if err := s.Upstream.Do(fasthttp.MethodGet, contracts.SessionPath(id), nil, nil, nil, resp); err != nil {
			s.Log.Warn("reconcile: upstream unavailable", "request_id", id)
			return
		}
		var v contracts.Session
		switch {
		case resp.StatusCode() == fasthttp.StatusOK && json.Unmarshal(resp.Body(), &v) == nil:
			s.observe(t, v.State, failureCode(v.Error), v.Version, "reconcile")
		case resp.StatusCode() == fasthttp.StatusNotFound:
			// The upstream swept it without an outcome we saw: not billed.
			s.observe(t, contracts.StateFailed, contracts.CodeTokenExpired, 0, "reconcile")
		}
	}
}

// memoryTTL is how long a settled session stays in memory after its last
// observation; later polls read it back from the store. It bounds memory
// to the sessions in flight plus a few minutes of finished ones.
const memoryTTL = 10 * time.Minute

func (s *Service) sweep() {
	now := s.Now()
	cutoff := now.Add(-s.cfg.Retention)
	if _, err := s.Store.Sweep(context.Background(), cutoff); err != nil {
		s.Log.Error("sessions sweep failed", "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.byID {
		t.mu.Lock()
		// In a fleet an open session is dropped too: its record names its
		// ticket, and find loads it again.
		drop := t.rec.CreatedAt.Before(cutoff) || ((t.rec.Status.Final() || s.fleet != nil) && now.Sub(t.seen) > memoryTTL)
		t.mu.Unlock()
		if drop {
			delete(s.byID, id)
		}
	}
}

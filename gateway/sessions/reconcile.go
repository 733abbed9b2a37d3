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
func (s *Service) Reconcile() {
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
		drop := t.rec.CreatedAt.Before(cutoff) || (t.rec.Status.Final() && now.Sub(t.seen) > memoryTTL)
		t.mu.Unlock()
		if drop {
			delete(s.byID, id)
		}
	}
}

package server

import (
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/encryption"
	"github.com/idgate/idgate/gateway/sessions"
)

// startSessions builds the session routes over the check routes' admission
// gate, with their store in the ledger's
// database so a session's billing event commits with its status.
func (s *Server) startSessions() error {
	if !s.cfg.Sessions.Enabled {
		return nil
	}
	store, box := s.sessionStore, s.outbox
	up, err := sessions.NewClient(s.cfg.Upstream)
	if err != nil {
		return err
	}
	if s.relay, err = sessions.NewRelay(s.cfg.Sessions, s.Metrics.Registry, s.log, box); err != nil {
		return err
	}
	// The same gate as the check routes: one admission path, one set of
	// stores (keys, limits, idempotency, quota, ledger).
	// FaceID's create actions may carry an encrypted identity: opened
	// with the gateway's private keys as a terminate route would.
	var identity sessions.IdentityOpener
	if s.crypto != nil {
		identity = s.crypto.Route(sessions.RouteBilling, encryption.ModeTerminate)
	}
	svc, err := sessions.New(s.cfg.Sessions, sessions.Deps{
		Gate: &s.pipeline.Gate, Upstream: up, Store: store,
		MaxBody: s.cfg.MaxBodyBytes, Listen: s.cfg.Listen, Identity: identity,
	}, s.relay)
	if err != nil {
		s.relay.Close()
		return err
	}
	// FaceID's session actions on the Tencent dialect's endpoint: the same
	// service, so the same admission path and the same billing once.
	for action, h := range svc.TencentActions(func() admission.Dialect { return s.front }) {
		if err := s.tc.Handle(action, h); err != nil {
			svc.Close()
			s.relay.Close()
			return err
		}
	}
	s.sessions = svc
	s.Metrics.Gauge("sessions_open", "Verification sessions holding a quota unit (outcome not known yet).", func() float64 { return float64(svc.Open()) })
	return nil
}

// stopSessions stops the reconciler and the webhook relay (pending retries
// are logged and abandoned) before the ledger closes.
func (s *Server) stopSessions() {
	if s.sessions != nil {
		s.sessions.Close()
	}
	if s.relay != nil {
		s.relay.Close()
	}
}

// Sessions exposes the session service (tests).
func (s *Server) Sessions() *sessions.Service { return s.sessions }

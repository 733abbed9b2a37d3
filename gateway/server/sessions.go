package server

import (
	"database/sql"
	"time"

	"github.com/idgate/idgate/gateway/sessions"
)

// startSessions builds the session routes over the pipeline's own steps
// (keys, limits, quota, ledger, metrics), with their store in the ledger's
// database so a session's billing event commits with its status.
func (s *Server) startSessions(db *sql.DB) error {
	if !s.cfg.Sessions.Enabled {
		return nil
	}
	store, err := sessions.NewSQLite(db)
	if err != nil {
		return err
	}
	up, err := sessions.NewClient(s.cfg.Upstream)
	if err != nil {
		return err
	}
	box, err := sessions.NewSQLiteOutbox(db)
	if err != nil {
		return err
	}
	if s.relay, err = sessions.NewRelay(s.cfg.Sessions, s.Metrics.Registry, s.log, box); err != nil {
		return err
	}
	svc, err := sessions.New(s.cfg.Sessions, sessions.Deps{
		Auth: s.dir, Limits: s.limits, Quota: s.quota, Ledger: s.ledger, Calendar: s.calendar,
		Metrics: s.Metrics, IDs: s.pipeline.IDs, Upstream: up, Store: store, Log: s.log,
		MaxBody: s.cfg.MaxBodyBytes, Listen: s.cfg.Listen, Now: time.Now,
	}, s.relay)
	if err != nil {
		s.relay.Close()
		return err
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

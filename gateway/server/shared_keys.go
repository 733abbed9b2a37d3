package server

import (
	"context"
	"time"

	"github.com/idgate/idgate/gateway/keystore"
	"github.com/idgate/idgate/gateway/stores"
)

// sharedKeys keeps the admin API's key changes in PostgreSQL and listens
// for the changes other replicas make: each rebuilds this replica's
// directory, so a key created, disabled or rotated anywhere in the fleet
// is honoured everywhere within moments. The listener is up before New
// reads the overrides, and New reads them and installs the directory
// under reloadMu, so a change is either in that read or rebuilt after it.
func (s *Server) sharedKeys(c *stores.Conns) error {
	sealKey, err := s.cfg.Auth.Secrets.Key()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, err := keystore.NewPostgres(ctx, c.PG, sealKey)
	if err != nil {
		return err
	}
	s.keys = keys
	stop, err := keys.Listen(ctx, s.log, s.keysChanged)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, func() error { stop(); return nil })
	return nil
}

// keysChanged rebuilds the directory after another replica changed a key.
func (s *Server) keysChanged() {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.dir == nil {
		return // New has not built it yet; it reads the overrides itself
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*s.cfg.Stores.Postgres.Timeout)
	defer cancel()
	if err := s.rebuild(ctx, s.cfg.Auth.Tenants); err != nil {
		s.log.Error("key change from another replica not applied", "err", err)
	}
}

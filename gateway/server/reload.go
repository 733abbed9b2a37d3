package server

import (
	"context"
	"fmt"

	"github.com/idgate/idgate/gateway/admin"
	"github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/gateway/encryption"
)

// reloadable is what a reload puts in force, as YAML paths (a path covers
// everything under it): the tenants, their keys and limits; the
// encryption keys, when some route encrypts (a key rotation); the tenants'
// webhook secrets, when the session API runs. Every other setting is read
// once at start: a change to it is named in the reload's log line and
// answer, and the running value stays until a restart.
func (s *Server) reloadable() []string {
	paths := []string{"tenants"}
	if s.crypto != nil {
		paths = append(paths, "encryption.private_keys", "encryption.upstream_keys", "encryption.upstream_algorithm")
	}
	if s.relay != nil {
		paths = append(paths, "sessions.tenant_webhook_secrets", "sessions.tenant_webhook_secret_files")
	}
	return paths
}

// Reload re-reads the configuration and puts its reloadable settings in
// force; requests in flight keep the snapshot they started with. The
// report names every changed setting by path, applied or ignored. A
// configuration that does not load, or keys that do not, change nothing.
func (s *Server) Reload() (admin.ReloadReport, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	r, err := s.reload()
	if err != nil {
		s.Metrics.Reload("error")
		s.log.Error("reload failed; keeping the previous tenants and keys", "err", err)
		return admin.ReloadReport{}, err
	}
	s.Metrics.Reload("ok")
	return r, nil
}

func (s *Server) reload() (admin.ReloadReport, error) {
	cfg, err := s.load()
	if err != nil {
		return admin.ReloadReport{}, fmt.Errorf("reload: %w", err)
	}
	var keys encryption.Keys
	if s.crypto != nil {
		// Key rotation: the new keyring replaces the old atomically, once
		// the rest of the config is accepted too; a key that fails to load
		// keeps the old ring.
		if keys, err = s.crypto.Load(cfg.Encryption); err != nil {
			return admin.ReloadReport{}, fmt.Errorf("reload: %w", err)
		}
	}
	if err := s.rebuild(context.Background(), cfg.Auth.Tenants); err != nil {
		return admin.ReloadReport{}, fmt.Errorf("reload: %w", err)
	}
	if s.crypto != nil {
		s.crypto.Swap(keys)
	}
	if s.relay != nil {
		s.relay.SetSecrets(cfg.Sessions.TenantWebhookSecrets)
	}

	reloadable := s.reloadable()
	var r admin.ReloadReport
	for _, p := range config.Changes(s.cfg, cfg) {
		if config.Within(p, reloadable...) {
			r.Applied = append(r.Applied, p)
		} else {
			r.Ignored = append(r.Ignored, p)
		}
	}
	if err := config.Take(&s.cfg, cfg, reloadable...); err != nil {
		return admin.ReloadReport{}, fmt.Errorf("reload: %w", err)
	}
	if len(r.Ignored) > 0 {
		s.log.Warn("reload: settings changed that only a restart applies; their running values stay",
			"ignored", r.Ignored)
	}
	s.log.Info("reloaded", "tenants", len(cfg.Auth.Tenants), "applied", r.Applied, "ignored", r.Ignored)
	return r, nil
}

package server

import (
	"context"
	"time"

	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/sessions"
	"github.com/idgate/idgate/gateway/stores"
)

// sharedSessions keeps the verification sessions and their webhook
// outbox in PostgreSQL, so any replica can poll, complete and bill a
// session another created (billed once: the status compare-and-set and
// the ledger entry commit in one transaction), and any replica can relay
// the webhooks another accepted.
func (s *Server) sharedSessions(c *stores.Conns) error {
	if !s.cfg.Sessions.Enabled {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if s.sessionStore, err = sessions.NewPostgres(ctx, c.PG, c.PGGuard, ledger.InsertPGTx); err != nil {
		return err
	}
	// A claim on a delivery outlasts one attempt (delivery.timeout) with a
	// margin: no other replica sends it meanwhile.
	lease := 2*s.cfg.Sessions.Delivery.Timeout + 10*time.Second
	s.outbox, err = sessions.NewPostgresOutbox(ctx, c.PG, c.PGGuard, lease)
	return err
}

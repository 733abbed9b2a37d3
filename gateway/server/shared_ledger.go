package server

import (
	"context"
	"time"

	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/stores"
)

// sharedLedger opens the fleet's ledger in PostgreSQL, with this
// replica's own journal as its spool, and replays what the journal holds
// from an unclean stop before the quota seeds from the ledger. The ledger
// closes first in closeStores (it stores what is queued); the pool is
// closed with the connections.
func (s *Server) sharedLedger(c *stores.Conns) error {
	// Long enough for a large journal's replay; bounded, so a PostgreSQL
	// that stops answering during the start fails it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// OpenPostgres logs what the replay recovered, as Open does for SQLite.
	l, _, err := ledger.OpenPostgres(ctx, c, s.ledgerConfig(), s.log)
	if err != nil {
		return err
	}
	s.ledger = l
	return nil
}

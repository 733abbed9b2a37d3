package server

import "github.com/idgate/idgate/gateway/stores"

// sharedLedger opens the ledger concern on the shared stores.
func (s *Server) sharedLedger(c *stores.Conns) error { return errNotBuilt("ledger") }

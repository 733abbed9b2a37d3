package server

import "github.com/idgate/idgate/gateway/stores"

// sharedSessions opens the sessions concern on the shared stores.
func (s *Server) sharedSessions(c *stores.Conns) error { return errNotBuilt("sessions") }

package server

import "github.com/idgate/idgate/gateway/stores"

// sharedAdmission opens the admission concern on the shared stores.
func (s *Server) sharedAdmission(c *stores.Conns) error { return errNotBuilt("admission") }

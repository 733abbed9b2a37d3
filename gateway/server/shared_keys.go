package server

import "github.com/idgate/idgate/gateway/stores"

// sharedKeys opens the keys concern on the shared stores.
func (s *Server) sharedKeys(c *stores.Conns) error { return errNotBuilt("keys") }

package server

import "github.com/idgate/idgate/gateway/config"

// Config is the configuration a server is built from: gateway/config
// composes it from the sections the components declare. Programs and tests
// that run a whole gateway name it here and fill its sections with the
// components' own types.
type Config = config.Config

// DefaultConfig is the demo configuration (configs/gateway.yaml).
func DefaultConfig() Config { return config.Default() }

package server

import (
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/gateway/ledger"
)

func ledgerFilter(tenant string) ledger.Filter { return ledger.Filter{Tenant: tenant} }

// writeConfig saves cfg as YAML so Reload can re-read it.
func writeConfig(t testing.TB, cfg config.Config) string {
	t.Helper()
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

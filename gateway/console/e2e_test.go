package console_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/testkit"
)

// TestConsoleInChromium starts the real simulator and gateway and drives
// the operator console in headless Chromium through e2e/console.e2e.js:
// a refused then accepted admin token kept in sessionStorage, the overview
// polled from /metrics, a key created (its secret shown once) and used for
// real checks, its daily quota lowered to what it used and the next check
// refused 402 used_up, a bad limit refused, the quota day, the usage chart
// and its CSV, a ledger search by request id and class with no personal
// data on the page, the simulator's statement uploaded and reconciled, and
// the key rotated and disabled. Screenshots go to IDGATE_TEST_ARTIFACTS
// (default: a temporary directory); IDGATE_UPDATE_DOCS=1 also refreshes
// docs/console.png.
func TestConsoleInChromium(t *testing.T) {
	// One playwright-core pin for both consoles: the simulator console's.
	node, root, modules := testkit.Browser(t)

	sim, gw := testkit.StartStack(t)

	artifacts := os.Getenv("IDGATE_TEST_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	} else {
		artifacts = filepath.Join(artifacts, "gateway-console")
	}
	var docs string
	if os.Getenv("IDGATE_UPDATE_DOCS") == "1" {
		docs = filepath.Join(root, "docs", "console.png")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "console.e2e.js")
	cmd.Dir = filepath.Join(root, "gateway", "console", "e2e")
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "CHROMIUM="+testkit.ChromiumPath,
		"ADMIN_URL="+gw.AdminURL, "GATEWAY_URL="+gw.URL, "SIM_URL="+sim.URL,
		"ADMIN_TOKEN="+testkit.GatewayAdminToken, "SIM_ADMIN_TOKEN="+testkit.SimAdminToken,
		"ARTIFACTS="+artifacts, "DOCS_SCREENSHOT="+docs)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("operator console e2e: %v\n%s\nscreenshots in %s", err, out, artifacts)
	}
	for _, name := range []string{"overview", "tenants", "quota", "usage", "ledger", "reconcile"} {
		if fi, err := os.Stat(filepath.Join(artifacts, name+".png")); err != nil || fi.Size() == 0 {
			t.Errorf("no %s screenshot in %s: %v", name, artifacts, err)
		}
	}
	t.Logf("%s; screenshots in %s", out, artifacts)
}

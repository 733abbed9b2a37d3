package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ChromiumPath is Debian's headless-capable Chromium, which the browser
// tests drive through playwright-core.
const ChromiumPath = "/usr/bin/chromium"

// Browser is what a browser test runs: node, the module root, and the
// node_modules holding the one pinned playwright-core (the simulator
// console's, simulator/console/e2e). The test is skipped in -short mode,
// and skipped (failed under CI=true) when node, Chromium or the modules
// are missing.
func Browser(t testing.TB) (node, root, modules string) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	node, err := exec.LookPath("node")
	Need(t, err == nil, "node is missing (run make setup)")
	_, err = os.Stat(ChromiumPath)
	Need(t, err == nil, ChromiumPath+" is missing (run make setup)")
	if root, err = ModuleRoot(); err != nil {
		t.Fatal(err)
	}
	modules = filepath.Join(root, "simulator", "console", "e2e", "node_modules")
	_, err = os.Stat(filepath.Join(modules, "playwright-core"))
	Need(t, err == nil, "simulator/console/e2e/node_modules is missing (run make setup: npm ci)")
	return node, root, modules
}

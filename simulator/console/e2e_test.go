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

// TestConsoleInChromium starts the real simulator and drives the console
// in headless Chromium through e2e/console.e2e.js: the main NFC path by QR
// scan with a retried read and an approved review, the App Clip path on a
// refused Pixel, a failed then passed liveness with a rejected review, app
// authorisation refused and granted, the NFC-read-only flow, and permission
// refused. At each step the page must show no broken image, no label without
// a shown control, no empty heading and no "undefined"/"null"/"NaN" text.
func TestConsoleInChromium(t *testing.T) {
	node, root, _ := testkit.Browser(t)
	e2e := filepath.Join(root, "simulator", "console", "e2e")

	// time_scale 0.002: the 15-minute review takes 1.8 s.
	sim := testkit.StartSim(t, "IDGATE_SIM_CONFIG=", "IDGATE_SIM_TOKENS=sim-token", "IDGATE_SIM_ADMIN_TOKEN=sim-admin-token",
		"IDGATE_SIM_SESSIONS_TIME_SCALE=0.002", "IDGATE_SIM_SESSIONS_PUBLIC_URL=")

	artifacts := filepath.Join(root, "test-artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifacts, "console.png")
	initial := filepath.Join(artifacts, "console-initial.png")
	for _, p := range []string{shot, initial} {
		_ = os.Remove(p)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "console.e2e.js")
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(), "BASE_URL="+sim.URL, "SCREENSHOT="+shot, "SCREENSHOT_INITIAL="+initial, "CHROMIUM="+testkit.ChromiumPath, "SIM_TOKEN=sim-token")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("console e2e: %v\n%s", err, out)
	}
	for _, p := range []string{initial, shot} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Fatalf("no screenshot at %s: %v", p, err)
		}
	}
	t.Logf("%s; screenshots %s, %s", out, initial, shot)
}

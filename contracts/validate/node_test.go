package validate

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/testkit"
)

var (
	npmOnce sync.Once
	npmErr  string
)

// tool returns the path of a command of the pinned npm packages (prism,
// spectral), running `npm ci` first when node_modules lacks it. Without
// Node.js or npm the test skips, or fails under CI=true.
func tool(t *testing.T, name string) string {
	t.Helper()
	_, err := exec.LookPath("node")
	testkit.Need(t, err == nil, "node not found: install Node.js and npm, or run `make setup`")
	bin, err := filepath.Abs(filepath.Join("node_modules", ".bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		npmOnce.Do(func() { npmErr = npmCI() })
		testkit.Need(t, npmErr == "", npmErr)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("validate: %s not installed by npm ci: %v", name, err)
	}
	return bin
}

// npmCI installs the packages package-lock.json pins; it returns what
// went wrong, or "".
func npmCI() string {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "node_modules missing and npm not found: install npm, or run `make setup`"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "npm ci in contracts/validate failed: " + err.Error() + "\n" + string(out)
	}
	return ""
}

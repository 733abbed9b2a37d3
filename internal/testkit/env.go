package testkit

import (
	"os"
	"testing"
)

// CI reports whether the tests run under CI, where nothing may be skipped.
func CI() bool { return os.Getenv("CI") == "true" }

// Need stops a test whose prerequisite (a tool, a browser) is missing:
// under CI it fails, since CI installs everything; elsewhere it skips. msg
// says what is missing and how to get it.
func Need(t testing.TB, ok bool, msg string) {
	t.Helper()
	if ok {
		return
	}
	if CI() {
		t.Fatal(msg)
	}
	t.Skipf("%s; CI=true makes this a failure", msg)
}

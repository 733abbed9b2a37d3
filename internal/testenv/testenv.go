// Package testenv tells tests about the environment they run in.
package testenv

import "os"

// CI reports whether the tests run under CI, where nothing may be skipped.
func CI() bool { return os.Getenv("CI") == "true" }

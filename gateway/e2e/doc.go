// Package e2e holds the gateway's end-to-end tests: they build and start the
// real gateway and simulator binaries (internal/testkit) and check what the
// issue's "Done when" asks for against both processes' own records.
package e2e

// Package validate checks contracts/openapi.yaml with validators idgate
// does not own, pinned by this directory's package-lock.json: Spectral
// lints the document itself, and Prism, as a validating proxy in front of
// the simulator and of the gateway, reports every request and answer of
// the conformance suite and of the k6 smoke script that the document does
// not describe. Both run from this package's Go tests; `make setup` (or
// the tests themselves) runs `npm ci` here.
//
// @stoplight/prism-cli is pinned at 5.14.2, the newest release that runs
// on the Node.js `make setup` installs (Debian's nodejs, 20); 5.15 and
// later require Node.js 24.
package validate

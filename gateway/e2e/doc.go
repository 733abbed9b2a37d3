// Package e2e holds the gateway's end-to-end tests: they build and start the
// real gateway and simulator binaries (internal/testkit) and check the
// gateway's promises against both processes' own records: local rejects
// never reach the authority, the ledger bills exactly what the authority
// billed, quotas hold under concurrency and across restarts, and reloads
// and shutdowns under load lose neither a request nor a ledger entry. The
// official Tencent Cloud Node SDK (tencentcloud-sdk-nodejs) sees FaceID's
// codes and fields from the simulator directly and through the gateway,
// billed alike on both sides. A real Prometheus scraping both programs
// counts the same billed answers as the ledger and the simulator, and
// finds every series the shipped rules and dashboard read.
package e2e

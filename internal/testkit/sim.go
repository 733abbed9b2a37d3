package testkit

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/idgate/idgate/simulator/stats"
)

// The simulator's embedded credentials (configs/simulator.yaml).
const (
	SimToken      = "sim-token"
	SimAdminToken = "sim-admin-token"
	// SimSecretID and SimSecretKey are its Tencent Cloud API 3.0 pair.
	SimSecretID  = "sim-secret-id"
	SimSecretKey = "sim-secret-key"
)

// Sim is the simulator binary running on a loopback port.
type Sim struct {
	URL string // http://host:port
	*Proc
}

// StartSim builds and runs the simulator on a free loopback port, env
// (IDGATE_SIM_*=value) added to its environment, and waits until it is
// healthy. It stops when the test ends.
func StartSim(t testing.TB, env ...string) *Sim {
	t.Helper()
	return StartSimBinary(t, Build(t, "./simulator/cmd/simulator"), env...)
}

// StartSimBinary is StartSim with a simulator binary of the caller's
// (BuildPlain's, for tests that need production speed).
func StartSimBinary(t testing.TB, bin string, env ...string) *Sim {
	t.Helper()
	s := &Sim{}
	s.Proc = StartOnFreePorts(t, bin, env, func() ([]string, string) {
		addr := FreeAddr(t)
		s.URL = "http://" + addr
		return []string{"-listen", addr}, s.URL + "/healthz"
	})
	return s
}

// Stats reads what the simulator answered and billed (GET /admin/stats).
func (s *Sim) Stats(t testing.TB) stats.Snapshot {
	t.Helper()
	var snap stats.Snapshot
	if err := json.Unmarshal([]byte(s.Admin(t, http.MethodGet, "/admin/stats", "")), &snap); err != nil {
		t.Fatalf("testkit: simulator stats: %v", err)
	}
	return snap
}

// Admin calls the simulator's admin API with SimAdminToken and returns the
// answer's body; a status of 300 or more fails t.
func (s *Sim) Admin(t testing.TB, method, path, body string) string {
	t.Helper()
	status, b := Call(t, method, s.URL+path, SimAdminToken, body)
	if status >= 300 {
		t.Fatalf("testkit: simulator %s %s: %d %s", method, path, status, b)
	}
	return b
}

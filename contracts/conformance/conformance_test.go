package conformance_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/idgate/idgate/contracts/conformance"
	"github.com/idgate/idgate/internal/testkit"
)

// fastReview makes the simulator's 15-minute session review take 0.9 s.
var fastReview = []string{"IDGATE_SIM_SESSIONS_TIME_SCALE=0.001"}

// The suite against the simulator binary, as QA environments run it.
func TestSimulatorConforms(t *testing.T) {
	sim := testkit.StartSim(t, fastReview...)
	conformance.Run(t, conformance.Target{BaseURL: sim.URL, Token: testkit.SimToken, Prefer: true, Magic: true,
		Sessions: true, PhoneURL: sim.URL, TencentSecretID: testkit.SimSecretID, TencentSecretKey: testkit.SimSecretKey})
}

// The suite against the gateway in front of the simulator: clients switch
// their base URL and see the same contract.
func TestGatewayConforms(t *testing.T) {
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "gateway", "cmd", "gateway")); err != nil {
		t.Skip("gateway not built yet")
	}
	sim, gw := testkit.StartStack(t, fastReview...)
	conformance.Run(t, conformance.Target{BaseURL: gw.URL, Token: testkit.DemoKey, Prefer: true, Magic: true, Gateway: true,
		Sessions: true, PhoneURL: sim.URL, TencentSecretID: testkit.DemoSecretID, TencentSecretKey: testkit.DemoSecretKey})
}

package conformance_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/idgate/idgate/contracts/conformance"
	"github.com/idgate/idgate/internal/testbin"
)

// fastReview makes the simulator's 15-minute session review take 0.9 s.
var fastReview = []string{"IDGATE_SIM_SESSIONS_TIME_SCALE=0.001"}

// The suite against the simulator binary, as QA environments run it.
func TestSimulatorConforms(t *testing.T) {
	addr := testbin.FreeAddr(t)
	bin := testbin.Build(t, "./simulator/cmd/simulator")
	testbin.Start(t, bin, []string{"-listen", addr}, fastReview, "http://"+addr+"/healthz")
	conformance.Run(t, conformance.Target{BaseURL: "http://" + addr, Token: "sim-token", Prefer: true, Magic: true,
		Sessions: true, PhoneURL: "http://" + addr})
}

// The suite against the gateway in front of the simulator: clients switch
// their base URL and see the same contract.
func TestGatewayConforms(t *testing.T) {
	root, err := testbin.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "gateway", "cmd", "gateway")); err != nil {
		t.Skip("gateway not built yet")
	}
	simAddr, gwAddr, adminAddr := testbin.FreeAddr(t), testbin.FreeAddr(t), testbin.FreeAddr(t)
	sim := testbin.Build(t, "./simulator/cmd/simulator")
	gw := testbin.Build(t, "./gateway/cmd/gateway")
	testbin.Start(t, sim, []string{"-listen", simAddr}, fastReview, "http://"+simAddr+"/healthz")
	testbin.Start(t, gw, []string{"-listen", gwAddr, "-admin-listen", adminAddr},
		[]string{"IDGATE_GW_UPSTREAM_URL=http://" + simAddr, "IDGATE_GW_STORE_PATH=" + filepath.Join(t.TempDir(), "ledger.db")},
		"http://"+gwAddr+"/healthz")
	conformance.Run(t, conformance.Target{BaseURL: "http://" + gwAddr, Token: "demo-key", Prefer: true, Magic: true, Gateway: true,
		Sessions: true, PhoneURL: "http://" + simAddr})
}

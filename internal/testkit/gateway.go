package testkit

import (
	"path/filepath"
	"testing"
)

// The gateway's embedded demo credentials (configs/gateway.yaml).
const (
	DemoKey           = "demo-key"
	GatewayAdminToken = "gateway-admin-token"
	// DemoSecretID and DemoSecretKey are DemoKey's Tencent Cloud API 3.0
	// pair.
	DemoSecretID  = "demo-secret-id"
	DemoSecretKey = "demo-secret-key"
)

// Gateway is the gateway binary running on loopback ports.
type Gateway struct {
	URL      string // client listener, http://host:port
	AdminURL string // admin listener
	*Proc
	bin       string
	args, env []string
}

// StartGateway builds and runs the gateway on free loopback ports (its
// -listen and -admin-listen flags), with args added to its command line
// ("-config", path; without one it runs on its embedded defaults) and env
// (IDGATE_GW_*=value) to its environment, and waits until it is healthy.
// It stops when the test ends.
func StartGateway(t testing.TB, args []string, env ...string) *Gateway {
	t.Helper()
	return StartGatewayBinary(t, Build(t, "./gateway/cmd/gateway"), args, env...)
}

// StartGatewayBinary is StartGateway with a gateway binary of the
// caller's (BuildPlain's, say).
func StartGatewayBinary(t testing.TB, bin string, args []string, env ...string) *Gateway {
	t.Helper()
	g := &Gateway{bin: bin, args: args, env: env}
	g.Restart(t)
	return g
}

// Restart runs the gateway again, once it has stopped (Terminate), with
// the same arguments and environment, on new ports.
func (g *Gateway) Restart(t testing.TB) {
	t.Helper()
	g.Proc = StartOnFreePorts(t, g.bin, g.env, func() ([]string, string) {
		addr, admin := FreeAddr(t), FreeAddr(t)
		g.URL, g.AdminURL = "http://"+addr, "http://"+admin
		return append([]string{"-listen", addr, "-admin-listen", admin}, g.args...), g.URL + "/healthz"
	})
}

// StartStack runs the simulator (simEnv added to its environment) and the
// gateway in front of it on the gateway's embedded defaults (tenant demo,
// DemoKey), with its ledger in a temporary directory.
func StartStack(t testing.TB, simEnv ...string) (*Sim, *Gateway) {
	t.Helper()
	sim := StartSim(t, simEnv...)
	gw := StartGateway(t, nil, "IDGATE_GW_UPSTREAM_URL="+sim.URL, "IDGATE_GW_STORE_PATH="+filepath.Join(t.TempDir(), "ledger.db"))
	return sim, gw
}

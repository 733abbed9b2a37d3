// Command conformance checks any server against the authority contract:
//
//	conformance -base-url http://127.0.0.1:8080 -token demo-key -gateway
//	conformance -base-url http://127.0.0.1:8081 -token sim-token -tc-secret-id sim-secret-id -tc-secret-key sim-secret-key
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/idgate/idgate/contracts/conformance"
)

func main() {
	var t conformance.Target
	flag.StringVar(&t.BaseURL, "base-url", "http://127.0.0.1:8081", "server under test")
	flag.StringVar(&t.Token, "token", os.Getenv("CONFORMANCE_TOKEN"), "valid bearer token (or env CONFORMANCE_TOKEN)")
	flag.BoolVar(&t.Prefer, "prefer", true, "the server honours the Prefer header (simulator, or a gateway in front of it)")
	flag.BoolVar(&t.Magic, "magic", true, "the server answers the magic identities")
	flag.BoolVar(&t.Gateway, "gateway", false, "an idgate gateway is in front")
	flag.BoolVar(&t.Sessions, "sessions", false, "the server serves the verification-session API")
	flag.StringVar(&t.PhoneURL, "phone-url", "", "the simulator's base URL for the sessions' phone side (empty: skip the walks)")
	flag.StringVar(&t.TencentSecretID, "tc-secret-id", os.Getenv("CONFORMANCE_TC_SECRET_ID"), "Tencent Cloud API 3.0 SecretId: adds the FaceID dialect's checks (or env CONFORMANCE_TC_SECRET_ID)")
	flag.StringVar(&t.TencentSecretKey, "tc-secret-key", os.Getenv("CONFORMANCE_TC_SECRET_KEY"), "its SecretKey (or env CONFORMANCE_TC_SECRET_KEY)")
	flag.Parse()
	env, err := conformance.NewEnv(t)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	passed, failed := 0, 0
	for _, c := range conformance.Checks(t) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := c.Run(ctx, env)
		cancel()
		if err != nil {
			failed++
			fmt.Printf("FAIL %s: %v\n", c.Name, err)
			continue
		}
		passed++
		fmt.Printf("ok   %s\n", c.Name)
	}
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

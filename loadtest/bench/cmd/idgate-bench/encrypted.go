package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	gwconfig "github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/gateway/encryption"
	"github.com/idgate/idgate/loadtest/bench/load"
)

// gwEncName is the encrypted-path target: the check route in terminate
// mode, every request sealed with SM4-GCM under an SM2-wrapped key.
const gwEncName = "gateway encrypted path (terminate, SM2/SM4-GCM) → simulator"

// encryptedPool is how many distinct sealed requests the target cycles
// through: every one has its own wrapped data key, so with the gateway's
// key cache off (its default) each request costs a full SM2 unwrap.
const encryptedPool = 2000

// encrypted is the encrypted path's two targets.
type encrypted struct {
	// fresh: every request with its own wrapped data key.
	fresh encryptedTarget
	// reuse is the same route for clients that reuse their wrapped data
	// key (as the AWS Encryption SDK's caching does, and as the gateway
	// does towards the upstream): the gateway's key cache on, the pool
	// sealed under the reuse bounds of encryption.upstream_key_reuse's
	// defaults, so the SM2 unwrap is paid once per key, not per request.
	reuse encryptedTarget
}

// encryptedTarget is one gateway configuration with its request pool.
type encryptedTarget struct {
	config string   // the gateway's configuration file
	bodies [][]byte // sealed check requests
}

// gwEncReuseName is the encrypted path with clients reusing their key.
const gwEncReuseName = "gateway encrypted path, clients reusing their data key (key cache on) → simulator"

// setUpEncrypted makes the gateway's SM2 key, hands it the simulator's
// public SM2 key as a file (as an operator would: never fetched from the
// upstream), writes a configuration with the check route in terminate
// mode, and seals the request pool for the gateway.
func setUpEncrypted(dir, simKeyDir string) (encrypted, error) {
	fail := func(err error) (encrypted, error) { return encrypted{}, fmt.Errorf("bench: encrypted path: %w", err) }
	gwKeyFile := filepath.Join(dir, "gateway-sm2.pem")
	gwKeys, _, err := fieldcrypto.EnsureKeyFile(gwKeyFile, fieldcrypto.SM4GCM)
	if err != nil {
		return fail(err)
	}
	toGateway, err := recipient(gwKeys[0])
	if err != nil {
		return fail(err)
	}
	simKeys, err := fieldcrypto.LoadPrivateKeys("file:" + filepath.Join(simKeyDir, "sm2.pem"))
	if err != nil {
		return fail(err)
	}
	toSim, err := recipient(simKeys[0])
	if err != nil {
		return fail(err)
	}
	pem, err := fieldcrypto.MarshalPublicKeyPEM(toSim.PublicKey())
	if err != nil {
		return fail(err)
	}
	simPub := filepath.Join(dir, "simulator-sm2.pub.pem")
	if err := os.WriteFile(simPub, pem, 0o644); err != nil {
		return fail(err)
	}
	terminate := func(keyCache bool) func(c *gwconfig.Config) {
		return func(c *gwconfig.Config) {
			c.Encryption.PrivateKeys = []string{"file:" + gwKeyFile}
			c.Encryption.UpstreamKeys = []string{"file:" + simPub}
			if keyCache {
				c.Encryption.KeyCache = encryption.KeyCache{Entries: 1024, TTL: time.Minute}
			}
			for i := range c.Routes {
				if c.Routes[i].Path == contracts.CheckPath {
					c.Routes[i].Encryption.Mode = encryption.ModeTerminate
				}
			}
		}
	}
	conf, err := benchGatewayConfig(dir, "gateway-encrypted.yaml", terminate(false))
	if err != nil {
		return fail(err)
	}
	reuseConf, err := benchGatewayConfig(dir, "gateway-encrypted-reuse.yaml", terminate(true))
	if err != nil {
		return fail(err)
	}
	sealer, err := fieldcrypto.NewSealer(toGateway, fieldcrypto.ReusePolicy{Messages: 4096, MaxAge: time.Hour})
	if err != nil {
		return fail(err)
	}
	r := rand.New(rand.NewPCG(2, 3))
	bodies := make([][]byte, encryptedPool)
	reused := make([][]byte, encryptedPool)
	for i := range bodies {
		req := load.RandomRequest(r)
		again := req
		if _, err := sealer.SealRequest(&again, fieldcrypto.AllFields); err != nil {
			return fail(err)
		}
		if reused[i], err = json.Marshal(again); err != nil {
			return fail(err)
		}
		if _, err := fieldcrypto.SealRequest(&req, toGateway, fieldcrypto.AllFields); err != nil {
			return fail(err)
		}
		if bodies[i], err = json.Marshal(req); err != nil {
			return fail(err)
		}
	}
	return encrypted{fresh: encryptedTarget{config: conf, bodies: bodies}, reuse: encryptedTarget{config: reuseConf, bodies: reused}}, nil
}

func recipient(priv any) (fieldcrypto.Recipient, error) {
	pub, err := fieldcrypto.PublicKey(priv)
	if err != nil {
		return fieldcrypto.Recipient{}, err
	}
	return fieldcrypto.NewRecipient(pub)
}

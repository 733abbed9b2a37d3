// Package encryption is the gateway's side of the check API's
// sensitive-field encryption object (contracts/fieldcrypto): the terminate
// and encrypt-upstream modes of a route. Passthrough needs nothing from
// here: the object is forwarded as it came.
//
// terminate: the client's request is opened with the gateway's private
// keyring (plaintext held only in memory, for validation, quota and the
// masked ledger ID), sealed again for the upstream with a gateway data key
// and a fresh IV (the client's key never leaves the gateway), the
// upstream's answer is opened with that upstream session, and the answer
// is sealed for the client with the client's own data key and IV.
//
// Upstream data keys are reused within Config.UpstreamKeyReuse (a count
// and an age limit, fieldcrypto.Sealer): wrapping a fresh key for every
// request would cost more than the rest of the request. A reload rotates
// them: no request that starts sealing after Swap uses a key from before.
//
// encrypt-upstream: the client sends plaintext (over TLS); the gateway
// seals every request for the upstream and answers the client in plain.
// An encrypted request on such a route is terminated if the gateway holds
// private keys, refused otherwise.
//
// Key material comes from files or the environment only (config
// "file:PATH"/"env:NAME"); it is never logged, and the upstream's public
// keys are never fetched from the upstream (whoever answers on its address
// would be trusted). Reload swaps the keyring atomically (SIGHUP).
package encryption

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
)

// keys is one immutable generation of key material.
type keys struct {
	ring     *fieldcrypto.Keyring // nil: no private keys configured
	upstream map[fieldcrypto.Algorithm]*fieldcrypto.Sealer
	upAlg    fieldcrypto.Algorithm // default algorithm towards the upstream
}

// Engine holds the key material every encrypting route shares.
type Engine struct {
	cur   atomic.Pointer[keys]
	cache *fieldcrypto.KeyCache   // shared across reloads; nil when off
	reuse fieldcrypto.ReusePolicy // of upstream data keys; fixed at New
	// opened counts encrypted client requests per route and outcome:
	// "opened" or the codec's error kind. The kind tells operators why
	// (a client still on a rotated-out key shows as unwrap/padding) while
	// the client only ever reads the uniform decrypt failure.
	opened *prometheus.CounterVec
}

// Register exports the engine's metrics on reg (the server's own registry).
func (e *Engine) Register(reg prometheus.Registerer) error {
	e.opened = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idgate_gateway_encrypted_requests_total",
		Help: "Encrypted client requests on terminate/encrypt-upstream routes by outcome: opened, or why they were refused.",
	}, []string{"route", "outcome"})
	cs := func(name, help string, f func(fieldcrypto.CacheStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(e.CacheStats()) })
	}
	for _, c := range []prometheus.Collector{
		e.opened,
		cs("idgate_gateway_key_cache_hits_total", "Unwrapped-key cache hits (private-key operations saved).", func(s fieldcrypto.CacheStats) float64 { return float64(s.Hits) }),
		cs("idgate_gateway_key_cache_misses_total", "Unwrapped-key cache misses.", func(s fieldcrypto.CacheStats) float64 { return float64(s.Misses) }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("encryption: metrics: %w", err)
		}
	}
	return nil
}

// New loads the key material of cfg. A bad or missing key is an error: the
// gateway must not start with a route it cannot serve.
func New(cfg Config) (*Engine, error) {
	e := &Engine{reuse: cfg.UpstreamKeyReuse.policy()}
	if cfg.KeyCache.Entries > 0 {
		e.cache = fieldcrypto.NewKeyCache(cfg.KeyCache.Entries, cfg.KeyCache.TTL)
	}
	if err := e.Reload(cfg); err != nil {
		return nil, err
	}
	return e, nil
}

// Reload re-reads the keys of cfg and swaps them in atomically; requests in
// flight finish with the keys they started with. On error the old keys
// stay. During a rotation cfg lists the new private key and the old one:
// both open requests until the old one is removed and the gateway reloaded.
func (e *Engine) Reload(cfg Config) error {
	k, err := e.Load(cfg)
	if err != nil {
		return err
	}
	e.Swap(k)
	return nil
}

// Keys is one loaded generation of key material (Load, then Swap), so a
// reload that also changes other settings can fail before swapping any.
type Keys struct{ k *keys }

// Swap makes k the keys of every route, atomically, and retires the
// upstream data keys of the keys it replaces: requests that start sealing
// afterwards draw keys of k only, even if the upstream's public keys did
// not change. Sessions in flight keep their keys, so their answers open.
func (e *Engine) Swap(k Keys) {
	old := e.cur.Swap(k.k)
	if old == nil || old == k.k {
		return
	}
	for _, s := range old.upstream {
		s.Retire()
	}
}

// Load reads and checks the keys of cfg without using them yet. The reuse
// bounds of upstream data keys stay those the engine was built with.
func (e *Engine) Load(cfg Config) (Keys, error) {
	k, err := e.load(cfg)
	return Keys{k}, err
}

func (e *Engine) load(cfg Config) (*keys, error) {
	k := &keys{upstream: map[fieldcrypto.Algorithm]*fieldcrypto.Sealer{}}
	if len(cfg.PrivateKeys) > 0 {
		priv, err := fieldcrypto.LoadPrivateKeys(cfg.PrivateKeys...)
		if err != nil {
			return nil, fmt.Errorf("encryption: private_keys: %w", err)
		}
		if k.ring, err = fieldcrypto.NewKeyring(e.cache, priv...); err != nil {
			return nil, fmt.Errorf("encryption: private_keys: %w", err)
		}
	}
	for _, src := range cfg.UpstreamKeys {
		r, err := fieldcrypto.LoadRecipient(src)
		if err != nil {
			return nil, fmt.Errorf("encryption: upstream_keys: %w", err)
		}
		if _, dup := k.upstream[r.Algorithm()]; dup {
			return nil, fmt.Errorf("encryption: upstream_keys: two keys for %s (%s); the upstream has one current key per algorithm", r.Algorithm(), src)
		}
		if k.upstream[r.Algorithm()], err = fieldcrypto.NewSealer(r, e.reuse); err != nil {
			return nil, fmt.Errorf("encryption: upstream_keys: %w", err)
		}
		if k.upAlg == "" {
			k.upAlg = r.Algorithm()
		}
	}
	if cfg.UpstreamAlgorithm != "" {
		alg := fieldcrypto.Algorithm(cfg.UpstreamAlgorithm)
		if _, ok := k.upstream[alg]; !ok {
			return nil, fmt.Errorf("encryption: upstream_algorithm %s has no key in upstream_keys", alg)
		}
		k.upAlg = alg
	}
	return k, nil
}

// PublicKeys are the gateway's own public keys, for clients to seal with.
func (e *Engine) PublicKeys() []crypto.PublicKey {
	if k := e.cur.Load(); k.ring != nil {
		return k.ring.PublicKeys()
	}
	return nil
}

// PublicKeysPath serves the gateway's own public keys (the simulator serves
// its keys at the same path), for clients of terminate routes to seal with.
// Clients should still pin the keys they were given out of band; this is
// a convenience over the TLS listener, not a trust anchor.
const PublicKeysPath = "/encryption/public-keys"

// PublicKeysJSON is the body of GET PublicKeysPath, in the simulator's
// shape: {"keys":[{"algorithm":"AES-256-CBC","pem":"..."}, ...]}. Without
// private keys it is fieldcrypto.ErrNotEnabled: the gateway opens no
// encrypted request, so it has no key to offer.
func (e *Engine) PublicKeysJSON() ([]byte, error) {
	if e.cur.Load().ring == nil {
		return nil, fieldcrypto.ErrNotEnabled
	}
	type entry struct {
		Algorithm fieldcrypto.Algorithm `json:"algorithm"`
		PEM       string                `json:"pem"`
	}
	out := struct {
		Keys []entry `json:"keys"`
	}{Keys: []entry{}}
	for _, pub := range e.PublicKeys() {
		r, err := fieldcrypto.NewRecipient(pub)
		if err != nil {
			return nil, fmt.Errorf("encryption: public key: %w", err)
		}
		pem, err := fieldcrypto.MarshalPublicKeyPEM(pub)
		if err != nil {
			return nil, fmt.Errorf("encryption: public key: %w", err)
		}
		out.Keys = append(out.Keys, entry{Algorithm: r.Algorithm(), PEM: string(pem)})
	}
	return json.Marshal(out)
}

// CacheStats reports the unwrapped-key cache (zero when off).
func (e *Engine) CacheStats() fieldcrypto.CacheStats {
	if e.cache == nil {
		return fieldcrypto.CacheStats{}
	}
	return e.cache.Stats()
}

// Route returns the handling of a route's mode, or nil for passthrough.
// name labels its metrics.
func (e *Engine) Route(name, mode string) *Route {
	switch mode {
	case ModeTerminate, ModeEncryptUpstream:
		return &Route{e: e, name: name, alwaysSeal: mode == ModeEncryptUpstream}
	}
	return nil
}

// Route is one route's mode. It implements pipeline.FieldCrypto.
type Route struct {
	e    *Engine
	name string
	// alwaysSeal: encrypt-upstream, plaintext requests are sealed too.
	alwaysSeal bool
}

func (r *Route) count(err error) {
	if r.e.opened == nil {
		return
	}
	outcome := "opened"
	if err != nil {
		outcome = "error"
		var fe *fieldcrypto.Error
		if errors.As(err, &fe) {
			outcome = fe.Kind.String()
		}
	}
	r.e.opened.WithLabelValues(r.name, outcome).Inc()
}

// errNoPrivateKeys answers an encrypted request on an encrypt-upstream
// route of a gateway without private keys: encryption is not enabled
// there, whatever the algorithm.
var errNoPrivateKeys error = fieldcrypto.ErrNotEnabled

// Open decrypts an encrypted request in place and returns the client's
// session (nil for a plaintext request). Errors are *fieldcrypto.Error:
// fieldcrypto.Rejection maps them to 400 token_mismatched with a message
// that is the same for every decrypt failure.
func (r *Route) Open(req *contracts.CheckRequest) (*fieldcrypto.Session, error) {
	if req.Encryption == nil {
		return nil, nil
	}
	k := r.e.cur.Load()
	if k.ring == nil {
		r.count(errNoPrivateKeys)
		return nil, errNoPrivateKeys
	}
	sess, err := k.ring.OpenRequest(req)
	r.count(err)
	return sess, err
}

// SealUpstream returns the body to forward for req (plaintext in memory)
// and the upstream session that opens the answer: the data key it was
// sealed with (reused within the engine's bounds) and its own fresh IV. A nil body means: send
// the request as received (a plaintext request on a terminate route).
func (r *Route) SealUpstream(req *contracts.CheckRequest, client *fieldcrypto.Session) ([]byte, *fieldcrypto.Session, error) {
	if client == nil && !r.alwaysSeal {
		return nil, nil, nil
	}
	k := r.e.cur.Load()
	set := fieldcrypto.AllFields
	alg := k.upAlg
	if client != nil {
		set = client.Fields()
		if _, ok := k.upstream[client.Algorithm()]; ok {
			alg = client.Algorithm()
		}
	}
	to, ok := k.upstream[alg]
	if !ok {
		return nil, nil, errors.New("encryption: no upstream key") // excluded by config validation
	}
	up := *req // a copy: req keeps the plaintext for the answer
	sess, err := to.SealRequest(&up, set)
	if err != nil {
		return nil, nil, fmt.Errorf("encryption: seal for upstream: %w", err)
	}
	body, err := json.Marshal(&up)
	if err != nil {
		return nil, nil, fmt.Errorf("encryption: encode upstream request: %w", err)
	}
	return body, sess, nil
}

// Answer builds the client's body for resp (a local verdict, or the
// upstream's result after Reseal decoded it): the client's fields sealed
// with its own data key and IV when it encrypted them, plain otherwise.
// The sealed values are the request's own, so the answer repeats the
// request's ciphertexts (and GCM tags) and reveals nothing new.
func (r *Route) Answer(dst []byte, resp contracts.CheckResponse, req *contracts.CheckRequest, client *fieldcrypto.Session) ([]byte, error) {
	resp.Name, resp.IDCard, resp.Encryption = "", "", nil
	if client != nil {
		sealed, enc, err := client.Seal(fieldcrypto.Fields{Name: req.Name, IDCard: req.IDCard}, client.Fields())
		if err != nil {
			return nil, fmt.Errorf("encryption: seal answer: %w", err)
		}
		if client.Fields().Has(fieldcrypto.FieldName) {
			resp.Name = sealed.Name
		}
		if client.Fields().Has(fieldcrypto.FieldIDCard) {
			resp.IDCard = sealed.IDCard
		}
		resp.Encryption = contracts.NewAnswerEncryption(enc)
	}
	return contracts.AppendResponse(dst, resp), nil
}

// ErrUpstreamAnswer is an upstream 200 whose encrypted fields do not open
// with the session the gateway sealed the request with: garbage, as far
// as the client is concerned.
var ErrUpstreamAnswer = errors.New("encryption: upstream answer's encrypted fields do not open")

// Reseal turns the upstream's 200 answer to a request sealed with up into
// the client's answer. Encrypted fields in it must open with up (an answer
// that does not is refused as garbage); the client gets them sealed with
// its own key (client != nil) or not at all (a plaintext client).
func (r *Route) Reseal(dst, upstreamBody []byte, req *contracts.CheckRequest, up, client *fieldcrypto.Session) ([]byte, error) {
	var resp contracts.CheckResponse
	if err := json.Unmarshal(upstreamBody, &resp); err != nil {
		return nil, ErrUpstreamAnswer // classify already read its result; the shape is wrong
	}
	if resp.Encryption != nil {
		if up == nil {
			return nil, ErrUpstreamAnswer
		}
		if _, err := up.Open(resp.Encryption.Object(), fieldcrypto.Fields{Name: resp.Name, IDCard: resp.IDCard}); err != nil {
			return nil, ErrUpstreamAnswer
		}
	}
	return r.Answer(dst, resp, req, client)
}

// Package auth turns an Authorization header into a tenant's key. Keys are
// known only by their SHA-256 digest; the directory is an immutable
// snapshot swapped atomically on reload, so a request never sees half of a
// reload.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/internal/secret"
)

// Tenant is a consumer of the gateway.
type Tenant struct {
	ID         string
	Name       string
	Disabled   bool
	DailyQuota int64 // 0: unlimited
}

// Key is an API key with its effective limits.
type Key struct {
	ID         string
	Tenant     *Tenant
	Digest     [sha256.Size]byte
	Disabled   bool
	Rate       float64
	Burst      int
	DailyQuota int64 // 0: only the tenant's quota applies
	// Managed keys were created through the admin API (not in config).
	Managed bool
	// SecretID and SecretKey are the key's Tencent Cloud API 3.0
	// credential pair ("" when it has none): a client signs its requests
	// with the SecretKey (TC3-HMAC-SHA256) instead of sending a bearer
	// token. Both credentials are the same key: same limits, same quota.
	// The SecretKey is held in memory to verify signatures; it never
	// prints (secret.Secret).
	SecretID  string
	SecretKey secret.Secret
	// StoredPair: the pair came from the key store (the admin API made
	// it), not from the config, so a later change to the key keeps it
	// there.
	StoredPair bool
}

// Override is a runtime change made through the admin API and persisted by
// the key store: it replaces a config key's digest or state, or adds a key.
type Override struct {
	KeyID      string
	TenantID   string
	Digest     [sha256.Size]byte
	Disabled   bool
	Rate       float64
	Burst      int
	DailyQuota int64
	// SecretID and SecretKey, when set, replace the key's Tencent pair.
	SecretID  string
	SecretKey secret.Secret
}

// Directory is one immutable snapshot of tenants and keys.
type Directory struct {
	byDigest   map[[sha256.Size]byte]*Key
	bySecretID map[string]*Key
	keys       map[string]*Key
	tenants    map[string]*Tenant
}

// ErrUnknownTenant is returned for an override naming a tenant that the
// config no longer has.
var ErrUnknownTenant = errors.New("auth: unknown tenant")

// NewDirectory builds a snapshot from config tenants and key-store overrides.
func NewDirectory(ts []TenantConfig, overrides []Override) (*Directory, error) {
	d := &Directory{
		byDigest:   map[[sha256.Size]byte]*Key{},
		bySecretID: map[string]*Key{},
		keys:       map[string]*Key{},
		tenants:    map[string]*Tenant{},
	}
	for _, ct := range ts {
		t := &Tenant{ID: ct.ID, Name: ct.Name, Disabled: ct.Disabled, DailyQuota: ct.DailyQuota}
		d.tenants[t.ID] = t
		for _, ck := range ct.Keys {
			d.keys[ck.ID] = &Key{
				ID: ck.ID, Tenant: t, Digest: ck.Digest(), Disabled: ck.Disabled,
				Rate: EffectiveRate(ct, ck), Burst: EffectiveBurst(ct, ck), DailyQuota: ck.DailyQuota,
				SecretID: ck.SecretID, SecretKey: ck.SecretKey,
			}
		}
	}
	for _, o := range overrides {
		k, ok := d.keys[o.KeyID]
		if !ok {
			t, ok := d.tenants[o.TenantID]
			if !ok {
				// The tenant left the config: its managed keys die with it.
				continue
			}
			k = &Key{ID: o.KeyID, Tenant: t, Managed: true, Rate: o.Rate, Burst: o.Burst, DailyQuota: o.DailyQuota}
			d.keys[o.KeyID] = k
		}
		k.Digest, k.Disabled = o.Digest, o.Disabled
		if o.SecretID != "" {
			k.SecretID, k.SecretKey, k.StoredPair = o.SecretID, o.SecretKey, true
		}
		if o.Rate > 0 {
			k.Rate = o.Rate
		}
		if o.Burst > 0 {
			k.Burst = o.Burst
		}
		if o.DailyQuota > 0 {
			k.DailyQuota = o.DailyQuota
		}
		if k.Rate <= 0 || k.Burst <= 0 {
			k.Rate, k.Burst = tenantDefaults(ts, k.Tenant.ID)
		}
	}
	for _, k := range d.keys {
		if other, dup := d.byDigest[k.Digest]; dup {
			return nil, fmt.Errorf("auth: keys %s and %s have the same secret", other.ID, k.ID)
		}
		d.byDigest[k.Digest] = k
		if k.SecretID == "" {
			continue
		}
		if other, dup := d.bySecretID[k.SecretID]; dup {
			return nil, fmt.Errorf("auth: keys %s and %s have the same secret_id", other.ID, k.ID)
		}
		d.bySecretID[k.SecretID] = k
	}
	return d, nil
}

func tenantDefaults(ts []TenantConfig, id string) (float64, int) {
	for _, t := range ts {
		if t.ID == id {
			return t.Rate, t.Burst
		}
	}
	return 0, 0
}

// Authenticate returns the active key named by an Authorization header.
// The map lookup is keyed by the digest, which an attacker cannot steer
// byte by byte; the final comparison is constant-time all the same.
func (d *Directory) Authenticate(authorization []byte) (*Key, bool) {
	secret, ok := contracts.BearerToken(authorization)
	if !ok {
		return nil, false
	}
	digest := sha256.Sum256(secret)
	k, ok := d.byDigest[digest]
	if !ok || subtle.ConstantTimeCompare(k.Digest[:], digest[:]) != 1 {
		return nil, false
	}
	if k.Disabled || k.Tenant.Disabled {
		return nil, false
	}
	return k, true
}

// BySecretID returns the active key whose Tencent pair has this SecretId,
// with the SecretKey its signatures are verified with. A disabled key, or
// a key of a disabled tenant, is not found.
func (d *Directory) BySecretID(id string) (*Key, bool) {
	k, ok := d.bySecretID[id]
	if !ok || k.Disabled || k.Tenant.Disabled {
		return nil, false
	}
	return k, true
}

// Key returns a key by id.
func (d *Directory) Key(id string) (*Key, bool) { k, ok := d.keys[id]; return k, ok }

// Tenant returns a tenant by id.
func (d *Directory) Tenant(id string) (*Tenant, bool) { t, ok := d.tenants[id]; return t, ok }

// Tenants lists tenants sorted by id.
func (d *Directory) Tenants() []*Tenant {
	out := make([]*Tenant, 0, len(d.tenants))
	for _, t := range d.tenants {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Keys lists a tenant's keys (all keys for "") sorted by id.
func (d *Directory) Keys(tenantID string) []*Key {
	var out []*Key
	for _, k := range d.keys {
		if tenantID == "" || k.Tenant.ID == tenantID {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Store holds the current directory; Swap installs a new one atomically.
type Store struct{ p atomic.Pointer[Directory] }

// NewStore starts with d.
func NewStore(d *Directory) *Store { s := &Store{}; s.p.Store(d); return s }

// Current is the snapshot in force.
func (s *Store) Current() *Directory { return s.p.Load() }

// Swap installs d.
func (s *Store) Swap(d *Directory) { s.p.Store(d) }

// BySecretID looks a SecretId up in the current snapshot.
func (s *Store) BySecretID(id string) (*Key, bool) { return s.p.Load().BySecretID(id) }

// Authenticate authenticates against the current snapshot.
func (s *Store) Authenticate(authorization []byte) (*Key, bool) {
	return s.p.Load().Authenticate(authorization)
}

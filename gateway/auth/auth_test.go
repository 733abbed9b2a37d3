package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func digestHex(s string) string { d := sha256.Sum256([]byte(s)); return hex.EncodeToString(d[:]) }

func TestDirectory(t *testing.T) {
	ts := []TenantConfig{
		{ID: "a", Rate: 10, Burst: 20, DailyQuota: 100, Keys: []KeyConfig{
			{ID: "a1", Key: "plain"},
			{ID: "a2", KeySHA256: digestHex("hashed"), Rate: 1, Burst: 2},
			{ID: "a3", Key: "rotated-old"},
		}},
		{ID: "b", Rate: 10, Burst: 20, Keys: []KeyConfig{{ID: "b1", Key: "bee"}}},
	}
	var rotated [32]byte = sha256.Sum256([]byte("rotated-new"))
	d, err := NewDirectory(ts, []Override{
		{KeyID: "a3", TenantID: "a", Digest: rotated},
		{KeyID: "b2", TenantID: "b", Digest: sha256.Sum256([]byte("managed")), Disabled: false},
		{KeyID: "b1", TenantID: "b", Digest: sha256.Sum256([]byte("bee")), Disabled: true},
		{KeyID: "gone", TenantID: "nope", Digest: sha256.Sum256([]byte("orphan"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		header, wantKey string
		rate            float64
	}{
		{"Bearer plain", "a1", 10},
		{"Bearer hashed", "a2", 1},
		{"BEARER   hashed  ", "a2", 1},
		{"Bearer rotated-new", "a3", 10},
		{"Bearer rotated-old", "", 0},
		{"Bearer managed", "b2", 10},
		{"Bearer bee", "", 0}, // disabled by override
		{"Bearer orphan", "", 0},
		{"Basic plain", "", 0},
		{"", "", 0},
	}
	for _, tc := range cases {
		k, ok := d.Authenticate([]byte(tc.header))
		if tc.wantKey == "" {
			if ok {
				t.Errorf("%q authenticated as %s", tc.header, k.ID)
			}
			continue
		}
		if !ok || k.ID != tc.wantKey || k.Rate != tc.rate {
			t.Errorf("%q: got %+v, %v; want %s rate %v", tc.header, k, ok, tc.wantKey, tc.rate)
		}
	}
	if _, err := NewDirectory([]TenantConfig{{ID: "x", Rate: 1, Burst: 1, Keys: []KeyConfig{{ID: "1", Key: "s"}, {ID: "2", Key: "s"}}}}, nil); err == nil {
		t.Fatal("two keys with the same secret accepted")
	}
}

// A key's Tencent pair: found by SecretId while the key and its tenant
// are active; an override (the admin API) replaces it; a config pair
// survives an override that does not name one.
func TestDirectoryTencentPairs(t *testing.T) {
	ts := []TenantConfig{
		{ID: "a", Rate: 1, Burst: 1, Keys: []KeyConfig{
			{ID: "a1", Key: "k1", SecretID: "AKID1", SecretKey: "s1"},
			{ID: "a2", Key: "k2", SecretID: "AKID2", SecretKey: "s2"},
			{ID: "a3", Key: "k3", SecretID: "AKID3", SecretKey: "s3"},
			{ID: "a4", Key: "k4"},
		}},
		{ID: "off", Disabled: true, Rate: 1, Burst: 1, Keys: []KeyConfig{{ID: "o1", Key: "ko", SecretID: "AKIDo", SecretKey: "so"}}},
	}
	d, err := NewDirectory(ts, []Override{
		{KeyID: "a2", TenantID: "a", Digest: sha256.Sum256([]byte("k2")), SecretID: "AKID2new", SecretKey: "s2new"},
		{KeyID: "a3", TenantID: "a", Digest: sha256.Sum256([]byte("k3")), Disabled: true},
		{KeyID: "m1", TenantID: "a", Digest: sha256.Sum256([]byte("km")), SecretID: "AKIDm", SecretKey: "sm"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"AKID1": "a1", "AKID2": "", "AKID2new": "a2", "AKID3": "", "AKIDm": "m1", "AKIDo": "", "": "", "nope": "",
	} {
		k, ok := d.BySecretID(id)
		switch {
		case want == "" && ok:
			t.Errorf("%q found as %s", id, k.ID)
		case want != "" && (!ok || k.ID != want):
			t.Errorf("%q: %v %v, want %s", id, k, ok, want)
		}
	}
	if k, _ := d.BySecretID("AKID2new"); k.SecretKey != "s2new" || !k.StoredPair {
		t.Errorf("overridden pair %+v", k)
	}
	if k, _ := d.BySecretID("AKID1"); k.SecretKey != "s1" || k.StoredPair {
		t.Errorf("config pair %+v", k)
	}
	if k, _ := d.Key("a3"); k.SecretID != "AKID3" || k.StoredPair {
		t.Errorf("an override without a pair keeps the config's: %+v", k)
	}
	if _, err := NewDirectory(ts[:1], []Override{{KeyID: "m1", TenantID: "a", Digest: sha256.Sum256([]byte("km")), SecretID: "AKID1", SecretKey: "x"}}); err == nil {
		t.Fatal("two keys with one SecretId accepted")
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	d, _ := NewDirectory([]TenantConfig{{ID: "a", Rate: 1, Burst: 1, Keys: []KeyConfig{{ID: "a1", Key: "demo-key"}}}}, nil)
	h := []byte("Bearer demo-key")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, ok := d.Authenticate(h); !ok {
			b.Fatal()
		}
	}
}

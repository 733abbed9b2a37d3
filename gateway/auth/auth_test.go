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

package encryption

import (
	"errors"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
)

// TestNotEnabled: a gateway without private keys opens no encrypted
// request and offers no public key, and says that encryption is not
// enabled rather than that an algorithm is not supported.
func TestNotEnabled(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	r := e.Route("encrypt-upstream", ModeEncryptUpstream)
	for _, tc := range []struct {
		name string
		enc  *contracts.Encryption
		want error
	}{
		{"plain request", nil, nil},
		{"SM4-GCM", &contracts.Encryption{EncryptList: []string{"name"}, CiphertextBlob: "AAAA", IV: "AAAAAAAAAAAAAAAA", Algorithm: "SM4-GCM", TagList: []string{"AAAA"}}, fieldcrypto.ErrNotEnabled},
		{"AES-256-CBC", &contracts.Encryption{EncryptList: []string{"id_card"}, CiphertextBlob: "AAAA", IV: "AAAAAAAAAAAAAAAAAAAAAA==", Algorithm: "AES-256-CBC"}, fieldcrypto.ErrNotEnabled},
		{"unknown algorithm", &contracts.Encryption{EncryptList: []string{"name"}, CiphertextBlob: "AAAA", IV: "AAAA", Algorithm: "AES-128-CBC"}, fieldcrypto.ErrNotEnabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := contracts.CheckRequest{Name: "张三", IDCard: "11010519491231002X", Encryption: tc.enc}
			sess, err := r.Open(&req)
			if sess != nil || !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Open = %v, %v; want %v", sess, err, tc.want)
			}
			if err == nil {
				return
			}
			if rej := fieldcrypto.Rejection(err); rej.Error != contracts.ErrTokenMismatched || rej.Reason != fieldcrypto.NotEnabled {
				t.Errorf("Rejection = %+v, want token_mismatched %q", rej, fieldcrypto.NotEnabled)
			}
		})
	}
	if b, err := e.PublicKeysJSON(); !errors.Is(err, fieldcrypto.ErrNotEnabled) {
		t.Errorf("PublicKeysJSON = %s, %v; want ErrNotEnabled", b, err)
	}
}

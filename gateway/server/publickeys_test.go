package server

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/gateway/encryption"
)

// TestPublicKeysNotEnabled: a gateway without encryption keys answers its
// public-keys path with the contract's error saying encryption is not
// enabled, not with an unknown API.
func TestPublicKeysNotEnabled(t *testing.T) {
	up := startUpstream(t)
	g := startGateway(t, testConfig(t, up.url, filepath.Join(t.TempDir(), "l.db")), "")
	resp, err := http.Get(g.url + encryption.PublicKeysPath)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e contracts.ErrorBody
	if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != 400 || e.Error.Code != contracts.ErrAPINotImplemented ||
		e.Error.Message != fieldcrypto.NotEnabled || e.TraceID == "" || resp.Header.Get("X-Request-Id") != e.TraceID {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

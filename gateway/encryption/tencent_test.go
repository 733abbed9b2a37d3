package encryption_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/contracts/tencent"
)

// postTencent sends body as IdCardVerification, signed with the demo key's
// Tencent pair as the Node SDK signs.
func (e *env) postTencent(t *testing.T, body []byte) (map[string]json.RawMessage, string) {
	t.Helper()
	u, _ := url.Parse(e.url)
	ts := time.Now().Unix()
	s := tencent.Signer{SecretID: "demo-secret-id", SecretKey: "demo-secret-key", Service: "127"}
	req, _ := http.NewRequest(http.MethodPost, e.url+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", tencent.ActionIdCardVerification)
	req.Header.Set("X-TC-Version", tencent.Version)
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("Authorization", s.Authorization(u.Hostname(), "application/json", body, ts))
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env struct{ Response map[string]json.RawMessage }
	if resp.StatusCode != 200 || json.Unmarshal(b, &env) != nil || env.Response == nil {
		t.Fatalf("answer %d %s", resp.StatusCode, b)
	}
	return env.Response, resp.Header.Get("X-Request-Id")
}

// A Tencent client's encrypted request on a terminate route: FaceID's
// Encryption object (Name, IdCard), opened with the gateway's keys,
// validated, sealed again for the upstream, answered in the envelope with
// FaceID's members only (no sealed echo: FaceID's answers have none).
func TestTencentClientTerminate(t *testing.T) {
	e := newEnv(t, nil)
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			opened := e.simOpened(t)
			req := plainReq()
			if _, err := fieldcrypto.SealRequest(&req, e.gwTo[alg], fieldcrypto.AllFields); err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(tencent.FromContractRequest(&req))
			r, rid := e.postTencent(t, body)
			var result string
			json.Unmarshal(r["Result"], &result)
			_, echoed := r["Encryption"]
			if result != string(contracts.ResultConsistent) || echoed || r["Name"] != nil || r["IdCard"] != nil {
				t.Fatalf("answer %v", r)
			}
			if got := e.simOpened(t); got != opened+1 {
				t.Errorf("simulator opened %v encrypted requests, want 1", got-opened)
			}
			if row := e.ledgerClasses(t)[rid]; row == nil || row[colClass] != "billed" || row[colIDMasked] == "encrypted" {
				t.Errorf("ledger row %v", row)
			}
		})
		t.Run(string(alg)+"/decrypt failure", func(t *testing.T) {
			req := plainReq()
			if _, err := fieldcrypto.SealRequest(&req, e.simTo[alg], fieldcrypto.AllFields); err != nil { // not the gateway's key
				t.Fatal(err)
			}
			body, _ := json.Marshal(tencent.FromContractRequest(&req))
			r, rid := e.postTencent(t, body)
			var er tencent.Error
			if json.Unmarshal(r["Error"], &er) != nil || er.Code != tencent.CodeDecryptSystemError {
				t.Fatalf("answer %v, want %s", r, tencent.CodeDecryptSystemError)
			}
			if row := e.ledgerClasses(t)[rid]; row == nil || row[colClass] != "local_reject" {
				t.Errorf("ledger row %v", row)
			}
		})
	}
	t.Run("field FaceID does not encrypt", func(t *testing.T) {
		req := plainReq()
		if _, err := fieldcrypto.SealRequest(&req, e.gwTo[fieldcrypto.SM4GCM], fieldcrypto.AllFields); err != nil {
			t.Fatal(err)
		}
		tr := tencent.FromContractRequest(&req)
		tr.Encryption.EncryptList = []string{"Name", "Phone"}
		body, _ := json.Marshal(tr)
		r, _ := e.postTencent(t, body)
		var er tencent.Error
		if json.Unmarshal(r["Error"], &er) != nil || er.Code != tencent.CodeUnsupportEncryptField {
			t.Fatalf("answer %v, want %s", r, tencent.CodeUnsupportEncryptField)
		}
	})
}

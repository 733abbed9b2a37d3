package server

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/contracts/tencent"
)

// recipients are the simulator's public keys, by algorithm.
func (ts *testServer) recipients(t *testing.T) map[fieldcrypto.Algorithm]fieldcrypto.Recipient {
	t.Helper()
	resp, err := ts.client.Get(ts.URL + PublicKeysPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var keys PublicKeys
	if err := json.NewDecoder(resp.Body).Decode(&keys); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("public keys: %v", err)
	}
	out := map[fieldcrypto.Algorithm]fieldcrypto.Recipient{}
	for _, k := range keys.Keys {
		pub, err := fieldcrypto.ParsePublicKeyPEM([]byte(k.PEM))
		if err != nil {
			t.Fatal(err)
		}
		if out[k.Algorithm], err = fieldcrypto.NewRecipient(pub); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// sealedTC seals name and id for to and writes FaceID's body.
func sealedTC(t *testing.T, to fieldcrypto.Recipient, req contracts.CheckRequest) (string, *fieldcrypto.Session) {
	t.Helper()
	sess, err := fieldcrypto.SealRequest(&req, to, fieldcrypto.AllFields)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(tencent.FromContractRequest(&req))
	return string(b), sess
}

// TestTencentEncrypted: both algorithms in FaceID's Encryption object,
// answers with FaceID's members only, and the codec's refusals in FaceID's
// codes.
func TestTencentEncrypted(t *testing.T) {
	ts := startTC(t, nil)
	for alg, to := range ts.recipients(t) {
		t.Run(string(alg), func(t *testing.T) {
			for _, tt := range []struct {
				action string
				req    contracts.CheckRequest
				result string
			}{
				{tencent.ActionIdCardVerification, contracts.CheckRequest{Name: validName, IDCard: validID}, "0"},
				{tencent.ActionIdCardVerification, contracts.CheckRequest{Name: validName, IDCard: magic("-1", 0).IDCard}, "-1"},
				{tencent.ActionCheckIdNameDate, contracts.CheckRequest{Name: validName, IDCard: validID, ValidityBegin: "19960101", ValidityEnd: "00000000"}, "0"},
				{tencent.ActionCheckIdNameDate, contracts.CheckRequest{Name: validName, IDCard: magic("-7", 0).IDCard, ValidityBegin: "20200101", ValidityEnd: "00000000"}, "-8"},
			} {
				body, _ := sealedTC(t, to, tt.req)
				a := ts.tcDo(t, tcReq{action: tt.action, body: body})
				if a.str("Result") != tt.result {
					t.Fatalf("%s: %v", tt.action, a)
				}
				// FaceID's check answers have no sealed echo.
				for _, member := range []string{"Encryption", "Name", "IdCard"} {
					if _, ok := a[member]; ok {
						t.Fatalf("%s: answer has %s: %v", tt.action, member, a)
					}
				}
			}
			// A tampered ciphertext: FaceID's decrypt failure.
			body, _ := sealedTC(t, to, contracts.CheckRequest{Name: validName, IDCard: validID})
			var r tencent.CheckRequest
			_ = json.Unmarshal([]byte(body), &r)
			r.Name, r.IdCard = r.IdCard, r.Name
			b, _ := json.Marshal(r)
			if e := ts.tcDo(t, tcReq{action: tencent.ActionIdCardVerification, body: string(b)}).err(); e == nil || e.Code != tencent.CodeDecryptSystemError {
				t.Errorf("tampered: %+v", e)
			}
			// A field FaceID does not encrypt.
			r.Encryption.EncryptList = []string{"Name", "ImageUrl"}
			b, _ = json.Marshal(r)
			if e := ts.tcDo(t, tcReq{action: tencent.ActionIdCardVerification, body: string(b)}).err(); e == nil || e.Code != tencent.CodeUnsupportEncryptField {
				t.Errorf("unsupported field: %+v", e)
			}
			// DetectAuth with an encrypted expected identity.
			var da tencent.DetectAuthRequest
			body, _ = sealedTC(t, to, contracts.CheckRequest{Name: validName, IDCard: validID})
			_ = json.Unmarshal([]byte(body), &da)
			da.RuleId = "1"
			b, _ = json.Marshal(da)
			if a := ts.tcDo(t, tcReq{action: tencent.ActionDetectAuth, body: string(b)}); len(a.str("BizToken")) != 32 {
				t.Errorf("encrypted DetectAuth: %v", a)
			}
		})
	}
}

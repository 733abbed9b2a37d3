package encryption_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
)

// TestAnswerOrder: whatever order the client lists its encrypted fields
// in, the answer (terminated by the gateway, or the simulator's passed
// through) lists them and their GCM tags in that order.
func TestAnswerOrder(t *testing.T) {
	e := newEnv(t, nil)
	for _, alg := range algs {
		for _, route := range []struct {
			name, path string
			to         map[fieldcrypto.Algorithm]fieldcrypto.Recipient
		}{
			{"terminate", pathTerminate, e.gwTo},
			{"passthrough", pathPass, e.simTo},
		} {
			for _, list := range [][]string{{"id_card", "name"}, {"name", "id_card"}} {
				t.Run(route.name+"/"+string(alg)+"/"+list[0]+"-first", func(t *testing.T) {
					body, sess := seal(t, route.to[alg], plainReq(), fieldcrypto.AllFields)
					var sent contracts.CheckRequest
					if err := json.Unmarshal(body, &sent); err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(sent.Encryption.EncryptList, list) {
						// The client's order: each tag moves with its field.
						slices.Reverse(sent.Encryption.EncryptList)
						slices.Reverse(sent.Encryption.TagList)
					}
					body, _ = json.Marshal(sent)
					resp := decodeAnswer(t, e.post(t, route.path, body))
					if resp.Encryption == nil || !slices.Equal(resp.Encryption.EncryptList, list) {
						t.Fatalf("answer encryption %+v, request's encrypt_list %v", resp.Encryption, list)
					}
					if !slices.Equal(resp.Encryption.TagList, sent.Encryption.TagList) {
						t.Errorf("answer tag_list %v, request's %v", resp.Encryption.TagList, sent.Encryption.TagList)
					}
					plain, err := sess.Open(resp.Encryption.Object(), fieldcrypto.Fields{Name: resp.Name, IDCard: resp.IDCard})
					if err != nil || plain.IDCard != testID {
						t.Fatalf("client cannot open the answer: %+v %v", plain, err)
					}
				})
			}
		}
	}
}

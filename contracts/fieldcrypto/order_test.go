package fieldcrypto

import (
	"slices"
	"testing"

	"github.com/idgate/idgate/contracts"
)

// TestAnswerKeepsRequestOrder: a receiver's answer lists encrypt_list, and
// under SM4-GCM tag_list, in the order the request did, so a client that
// pairs tags with fields in its own order gets each field's own tag; the
// echoed tags are the request's.
func TestAnswerKeepsRequestOrder(t *testing.T) {
	fx := newFixture(t, nil)
	plain := Fields{Name: "张三", IDCard: "11010519491231002X"}
	for _, alg := range []Algorithm{SM4GCM, AES256CBC} {
		for _, list := range [][]string{
			{NameField, IDCardField},
			{IDCardField, NameField},
			{NameField},
			{IDCardField},
		} {
			t.Run(string(alg)+"/"+listName(list), func(t *testing.T) {
				client, err := NewSession(fx.to[alg])
				if err != nil {
					t.Fatal(err)
				}
				var set FieldSet
				for _, f := range list {
					set |= fieldByName(f)
				}
				sealed, enc, err := client.Seal(plain, set)
				if err != nil {
					t.Fatal(err)
				}
				// The client's own order: the tags follow their fields.
				if !slices.Equal(enc.EncryptList, list) {
					byField := map[string]string{}
					for i, f := range enc.EncryptList {
						if enc.TagList != nil {
							byField[f] = enc.TagList[i]
						}
					}
					enc.EncryptList = slices.Clone(list)
					if enc.TagList != nil {
						enc.TagList = []string{byField[list[0]], byField[list[1]]}
					}
				}
				got, sess, err := fx.ring.Open(&enc, sealed)
				if err != nil || got.Name != plain.Name || got.IDCard != plain.IDCard {
					t.Fatalf("Open = %+v, %v", got, err)
				}
				answer, aenc, err := sess.Seal(got, sess.Fields())
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(aenc.EncryptList, list) {
					t.Errorf("answer encrypt_list %v, request's %v", aenc.EncryptList, list)
				}
				if !slices.Equal(aenc.TagList, enc.TagList) {
					t.Errorf("answer tag_list %v, request's %v", aenc.TagList, enc.TagList)
				}
				// The client opens the answer with the object as the wire
				// carries it (contracts.AnswerEncryption: no blob, no IV).
				opened, err := client.Open(contracts.NewAnswerEncryption(aenc).Object(), answer)
				if err != nil || opened != plain {
					t.Errorf("client Open = %+v, %v", opened, err)
				}
			})
		}
	}
}

func listName(list []string) string {
	s := ""
	for i, f := range list {
		if i > 0 {
			s += "+"
		}
		s += f
	}
	return s
}

package contracts

import (
	"encoding/json"
	"reflect"
	"testing"
)

// AppendCheckRequest writes what DecodeCheckRequest reads back, and what
// encoding/json reads the same way.
func TestAppendCheckRequestRoundTrip(t *testing.T) {
	for _, r := range []CheckRequest{
		{Name: "张三", IDCard: "11010519491231002X"},
		{Name: "a\"b\\c<>&\u2028", IDCard: "x\x01", ImageURL: "https://e.example/a?b=1&c=2", ValidityBegin: "20100101", ValidityEnd: "00000000"},
		{Name: "Y2lwaGVy", IDCard: "Y2lwaGVydGV4dA==", Encryption: &Encryption{EncryptList: []string{"name", "id_card"},
			CiphertextBlob: "blob", IV: "iv", Algorithm: "SM4-GCM", TagList: []string{"t1", "t2"}}},
		{Name: "n", IDCard: "i", Encryption: &Encryption{EncryptList: []string{"name"}, CiphertextBlob: "b", IV: "v", Algorithm: "AES-256-CBC"}},
	} {
		b := AppendCheckRequest(nil, &r)
		got, err := DecodeCheckRequest(b)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("%s: decoded %+v %v, want %+v", b, got, err, r)
		}
		var viaJSON CheckRequest
		if err := json.Unmarshal(b, &viaJSON); err != nil || !reflect.DeepEqual(viaJSON, r) {
			t.Fatalf("%s: encoding/json %+v %v", b, viaJSON, err)
		}
	}
}

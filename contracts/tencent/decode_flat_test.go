package tencent

import (
	"reflect"
	"testing"
)

// FuzzDecodeCheckRequestNoCopy holds the fast path to DecodeCheckRequest:
// the same request, or the same refusal, for every body.
func FuzzDecodeCheckRequestNoCopy(f *testing.F) {
	for _, s := range []string{
		`{"IdCard":"11010519491231002X","Name":"张三"}`,
		`{"Name":"张三","IdCard":"11010519491231002X","ValidityBegin":"20100101","ValidityEnd":"00000000"}`,
		`{"IdCard":"1","IdCard":"2","Name":"x"}`,
		`{"IdCard":"1","idcard":"2","Name":"x"}`,
		`{"IdCard":"1","Name":null}`,
		`{"IdCard":"1","Name":"\u5f20"}`,
		`{"IdCard":"1","Name":"x","Encryption":{"EncryptList":["Name"],"CiphertextBlob":"b","Iv":"i"}}`,
		`{"IdCard":"1"}`, `{}`, ` {"IdCard":"1","Name":"x"} `, `{"IdCard":"1","Name":"x"}x`, "\xff",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, withValidity bool) {
		want, wantErr := DecodeCheckRequest(body, withValidity)
		got, gotErr := DecodeCheckRequestNoCopy(body, withValidity)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotErr, wantErr) {
			t.Fatalf("%q: fast %+v %v, general %+v %v", body, got, gotErr, want, wantErr)
		}
	})
}

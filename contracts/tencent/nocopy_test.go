package tencent

import (
	"reflect"
	"strings"
	"testing"
	"time"
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

// FuzzParseAuthorizationNoCopy: the view parser reads what the copying
// one reads, and a verifier's cache does not keep the caller's bytes.
func FuzzParseAuthorizationNoCopy(f *testing.F) {
	for _, v := range sdkVectors {
		f.Add([]byte(v.auth))
	}
	f.Add([]byte("TC3-HMAC-SHA256 Credential=a/2025-12-04/s/tc3_request,SignedHeaders=host;content-type,Signature=" + strings.Repeat("0", 64)))
	f.Add([]byte("TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, , Signature=x"))
	f.Fuzz(func(t *testing.T, h []byte) {
		want, wantErr := ParseAuthorization(h)
		got, gotErr := ParseAuthorizationNoCopy(h)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotErr, wantErr) {
			t.Fatalf("%q: view %+v %v, copy %+v %v", h, got, gotErr, want, wantErr)
		}
	})
}

func TestVerifierKeepsCopies(t *testing.T) {
	v := sdkVectors[0]
	h := []byte(v.auth)
	a, err := ParseAuthorizationNoCopy(h)
	if err != nil {
		t.Fatal(err)
	}
	var ver Verifier
	now := time.Unix(vectorTS+30, 0)
	if err := ver.Verify(vectorRequest(v.host, vectorBody, "application/json"), &a, vectorTS, "sim-secret-key", now); err != nil {
		t.Fatal(err)
	}
	for i := range h {
		h[i] = 'x' // the request's buffer, reused
	}
	for id := range *ver.keys.Load() {
		if id.secretID != "sim-secret-id" || id.date != "2025-12-04" || id.service != "127" {
			t.Fatalf("cached id %+v changed with the caller's buffer", id)
		}
	}
}

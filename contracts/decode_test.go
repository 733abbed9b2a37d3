package contracts

import (
	"bytes"
	"reflect"
	"testing"
)

// flatCases are bodies of every shape the decoder tells apart: which ones
// the one-pass reader takes, and what it reads; everything else goes to
// encoding/json. They seed FuzzDecodeCheckRequest too.
var flatCases = []struct {
	body string
	fast bool
	want CheckRequest
}{
	{`{"name":"张三","id_card":"11010519491231002X"}`, true, CheckRequest{Name: "张三", IDCard: "11010519491231002X"}},
	{` {"name":"张三" , "id_card":"11010519491231002X","image_url":"https://x/y.jpg","validity_begin":"20200101","validity_end":"00000000"} `, true,
		CheckRequest{Name: "张三", IDCard: "11010519491231002X", ImageURL: "https://x/y.jpg", ValidityBegin: "20200101", ValidityEnd: "00000000"}},
	{"\t{ \"id_card\" : \"1\" ,\r\n \"name\":\"a\" }\n", true, CheckRequest{Name: "a", IDCard: "1"}},
	{`{"validity_end":"00000000","image_url":""}`, true, CheckRequest{ValidityEnd: "00000000"}},
	{`{"name":"a"}  `, true, CheckRequest{Name: "a"}},
	{`{}`, true, CheckRequest{}},
	{`{"name":"a","name":"b"}`, false, CheckRequest{}}, // repeated: encoding/json's last-wins decides
	{`{"NAME":"张三"}`, false, CheckRequest{}},
	{`{"Name":"a"}`, false, CheckRequest{}},
	{`{"name":"\u5f20"}`, false, CheckRequest{}},
	{`{"name":"a\"b"}`, false, CheckRequest{}},
	{`{"name":null}`, false, CheckRequest{}},
	{`{"name":1}`, false, CheckRequest{}},
	{`{"name":"张三","id_card":"11010519491231002X","encryption":{"encrypt_list":["name"],"ciphertext_blob":"AA==","iv":"AA==","algorithm":"SM4-GCM"}}`, false, CheckRequest{}},
	{`{"name":"a","encryption":{}}`, false, CheckRequest{}},
	{`{"name":"a"}x`, false, CheckRequest{}},
	{`{"name":"a"} x`, false, CheckRequest{}},
	{`{"name":"a",}`, false, CheckRequest{}},
	{`{"name":"a"`, false, CheckRequest{}},
	{"{\"name\":\"\xff\"}", false, CheckRequest{}},
	{"{\"name\":\"\xed\xa0\x80\"}", false, CheckRequest{}}, // a surrogate: not UTF-8
	{`{"name":"a` + "\n" + `"}`, false, CheckRequest{}},
	{`{"other":"x"}`, false, CheckRequest{}},
	{`{"other":1}`, false, CheckRequest{}},
	{"\u00a0{}", false, CheckRequest{}},
	{`[]`, false, CheckRequest{}},
	{``, false, CheckRequest{}},
}

func TestDecodeFlat(t *testing.T) {
	for _, tc := range flatCases {
		for _, owned := range []bool{true, false} {
			var got CheckRequest
			ok := decodeFlat([]byte(tc.body), &got, owned)
			if ok != tc.fast || (ok && got != tc.want) {
				t.Errorf("decodeFlat(%q, owned=%v) = %v %+v, want %v %+v", tc.body, owned, ok, got, tc.fast, tc.want)
			}
		}
	}
}

// TestDecodeAllocations: a flat body costs DecodeCheckRequest one
// allocation (the copy its fields share) and DecodeCheckRequestNoCopy none.
func TestDecodeAllocations(t *testing.T) {
	body := []byte(flatCases[0].body)
	for _, tc := range []struct {
		name   string
		decode func([]byte) (CheckRequest, error)
		max    float64
	}{
		{"DecodeCheckRequest", DecodeCheckRequest, 1},
		{"DecodeCheckRequestNoCopy", DecodeCheckRequestNoCopy, 0},
	} {
		if n := testing.AllocsPerRun(100, func() { tc.decode(body) }); n > tc.max {
			t.Errorf("%s: %v allocations, want at most %v", tc.name, n, tc.max)
		}
	}
}

// FuzzDecodeCheckRequest: both entry points answer every body exactly as
// encoding/json (decodeJSON) does, request and error message alike; and
// DecodeCheckRequest's strings survive the reuse of the body's buffer.
func FuzzDecodeCheckRequest(f *testing.F) {
	for _, tc := range flatCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want, wantErr := decodeJSON(body)
		buf := bytes.Clone(body)
		noCopy, noCopyErr := DecodeCheckRequestNoCopy(buf)
		if !sameAnswer(noCopy, noCopyErr, want, wantErr) {
			t.Fatalf("%q: DecodeCheckRequestNoCopy %+v, %v; encoding/json %+v, %v", body, noCopy, noCopyErr, want, wantErr)
		}
		owned, ownedErr := DecodeCheckRequest(buf)
		for i := range buf {
			buf[i] = 'x'
		}
		if !sameAnswer(owned, ownedErr, want, wantErr) {
			t.Fatalf("%q: DecodeCheckRequest %+v, %v (after the buffer was reused); encoding/json %+v, %v", body, owned, ownedErr, want, wantErr)
		}
	})
}

func sameAnswer(got CheckRequest, gotErr error, want CheckRequest, wantErr error) bool {
	if (gotErr == nil) != (wantErr == nil) {
		return false
	}
	if gotErr != nil {
		return gotErr.Error() == wantErr.Error() && IsRequestError(gotErr)
	}
	return reflect.DeepEqual(got, want)
}

func BenchmarkDecodeCheckRequest(b *testing.B) {
	body := []byte(`{"name":"测试一致","id_card":"110101191111110010"}`)
	b.Run("flat", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			DecodeCheckRequest(body)
		}
	})
	b.Run("flat-nocopy", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			DecodeCheckRequestNoCopy(body)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			decodeJSON(body)
		}
	})
}

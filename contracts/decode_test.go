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
	{`{"name":"a","name":"b"}`, false, CheckRequest{}}, // repeated: refused by the general path
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

// TestDecodeRefusesAmbiguousKeys: a body other parsers could read as
// another request is refused, whichever path reads it; other unknown keys
// are still ignored.
func TestDecodeRefusesAmbiguousKeys(t *testing.T) {
	const id = `"id_card":"11010519491231002X"`
	enc := func(members string) string {
		return `{"name":"张三",` + id + `,"encryption":{` + members + `}}`
	}
	const encOK = `"encrypt_list":["name"],"ciphertext_blob":"AA==","iv":"AA==","algorithm":"SM4-GCM"`
	for _, tc := range []struct {
		name, body, want string // want: the refusal ("" accepted)
	}{
		{"repeated name", `{"name":"a","name":"张三",` + id + `}`, "duplicate field name: each field may appear once"},
		{"repeated id_card", `{"name":"张三",` + id + `,` + id + `}`, "duplicate field id_card: each field may appear once"},
		{"repeated escaped", `{"name":"a","n\u0061me":"张三",` + id + `}`, "duplicate field name: each field may appear once"},
		{"repeated with another type", `{"name":1,"name":"张三",` + id + `}`, "duplicate field name: each field may appear once"},
		{"repeated encryption", `{"name":"张三",` + id + `,"encryption":null,"encryption":{}}`, "duplicate field encryption: each field may appear once"},
		{"repeated in encryption", enc(encOK + `,"iv":"AB=="`), "duplicate field encryption.iv: each field may appear once"},
		{"repeated unknown", `{"name":"张三",` + id + `,"x":1,"x":2}`, "duplicate key in the request body: each key may appear once in an object"},
		{"repeated nested", `{"name":"张三",` + id + `,"x":[{"a":1,"a":1}]}`, "duplicate key in the request body: each key may appear once in an object"},
		{"upper case", `{"NAME":"张三","ID_CARD":"11010519491231002X"}`, `unknown field "NAME": field names are case-sensitive (name)`},
		{"mixed case after exact", `{"id_card":"110105194912310021","Id_Card":"11010519491231002X","name":"张三"}`, `unknown field "Id_Card": field names are case-sensitive (id_card)`},
		{"case folding", `{"name":"张三",` + id + `,"encryption":{"encrypt_liſt":["name"]}}`, `unknown field "encryption.encrypt_liſt": field names are case-sensitive (encryption.encrypt_list)`},
		{"case in encryption", enc(encOK + `,"IV":"AA=="`), `unknown field "encryption.IV": field names are case-sensitive (encryption.iv)`},
		{"unknown ignored", `{"name":"张三",` + id + `,"other":{"NAME":1},"x":[1,{"y":2}]}`, ""},
		{"unknown ignored in encryption", enc(encOK + `,"note":"x"`), ""},
		{"same key in sibling objects", `{"name":"张三",` + id + `,"x":{"a":1},"y":{"a":1}}`, ""},
		{"invalid JSON first", `{"name":"a","name":"b"`, "request body is not valid JSON"},
	} {
		for _, decode := range []func([]byte) (CheckRequest, error){DecodeCheckRequest, DecodeCheckRequestNoCopy, decodeJSON} {
			_, err := decode([]byte(tc.body))
			got := ""
			if err != nil {
				got = err.Error()
				if !IsRequestError(err) {
					t.Errorf("%s: %v is not a RequestError", tc.name, err)
				}
			}
			if got != tc.want {
				t.Errorf("%s: %s\n got %q\nwant %q", tc.name, tc.body, got, tc.want)
			}
		}
	}
}

func TestDecodeFlat(t *testing.T) {
	for _, tc := range flatCases {
		var got CheckRequest
		ok := decodeFlat([]byte(tc.body), &got)
		if ok != tc.fast || (ok && got != tc.want) {
			t.Errorf("decodeFlat(%q) = %v %+v, want %v %+v", tc.body, ok, got, tc.fast, tc.want)
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

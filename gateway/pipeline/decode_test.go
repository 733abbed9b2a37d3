package pipeline

import (
	"reflect"
	"testing"

	"github.com/idgate/idgate/contracts"
)

func TestDecodeFlat(t *testing.T) {
	cases := []struct {
		body string
		fast bool
	}{
		{`{"name":"张三","id_card":"11010519491231002X"}`, true},
		{` { "id_card" : "1" , "name":"a", "image_url":"http://x/y.jpg","validity_begin":"20200101","validity_end":"00000000" } `, true},
		{`{}`, true},
		{`{"name":"a\"b"}`, false},
		{`{"Name":"a"}`, false},
		{`{"name":"a","name":"b"}`, false},
		{`{"name":1}`, false},
		{`{"name":"a",}`, false},
		{`{"name":"a"} x`, false},
		{`{"name":"a","encryption":{}}`, false},
		{"{\"name\":\"\xff\"}", false},
		{`{"name":"a"`, false},
		{`[]`, false},
	}
	for _, tc := range cases {
		_, ok := decodeFlat([]byte(tc.body))
		if ok != tc.fast {
			t.Errorf("decodeFlat(%s) fast=%v, want %v", tc.body, ok, tc.fast)
		}
	}
}

// FuzzDecode: wherever the fast path answers, encoding/json agrees.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"张三","id_card":"11010519491231002X"}`, `{"NAME":"a"}`, `{"name":"a","name":"b"}`,
		`{"validity_end":"00000000","image_url":""}`, "{\"name\":\"\xed\xa0\x80\"}", `{"name":"a"}  `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeFlat(b)
		if !ok {
			return
		}
		slow, err := contracts.DecodeCheckRequest(b)
		if err != nil {
			t.Fatalf("fast path accepted %q, contracts refuses: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v, contracts %+v", b, fast, slow)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"name":"测试一致","id_card":"110101191111110010"}`)
	b.Run("flat", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			decode(body)
		}
	})
	b.Run("contracts", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			contracts.DecodeCheckRequest(body)
		}
	})
}

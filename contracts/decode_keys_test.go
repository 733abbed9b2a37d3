package contracts

import (
	"encoding/json"
	"strings"
	"testing"
)

// keySchemas are the schemas the scanner is held to the tokenizer with:
// the check request's, one in Tencent's casing, and one whose names only
// Unicode case folding matches (K is the Kelvin sign, ſ the long s).
var keySchemas = []*KeySchema{
	&checkSchema,
	{
		Fields:       []string{"IdCard", "Name", "ValidityBegin", "ValidityEnd", "Encryption"},
		Nested:       "Encryption",
		NestedFields: []string{"EncryptList", "CiphertextBlob", "Iv", "Algorithm", "TagList"},
	},
	{Fields: []string{"Kind", "ſize", "device"}, Nested: "device", NestedFields: []string{"oſ", "model"}},
}

// encryptedBody is a check request as a client that encrypts it sends it.
const encryptedBody = `{"name":"q83vEjRWeJq8nt7wEjRWeA==","id_card":"3q2+78r+ur7erb7vyv66vt6tvu/K/rq+","encryption":{` +
	`"encrypt_list":["name","id_card"],` +
	`"ciphertext_blob":"AQIDAHjWZBtT2rJFy2i8K9lJ6WbQ1n8oZbT3xQvUOk5kS0Fk0gFtA2vQ7uyz4k0f3XqG1dPzAAAAfjB8BgkqhkiG9w0BBwagbzBtAgEAMGgGCSqGSIb3DQEHATAeBglghkgBZQMEAS4wEQQM",` +
	`"iv":"AAECAwQFBgcICQoL","algorithm":"AES-256-GCM","tag_list":["q83vEjRWeJq8nt7wEjRWeA==","3q2+78r+ur7erb7vyv66vg=="]}}`

// plainBody is a check request with every field and no encryption.
const plainBody = `{"name":"张三","id_card":"11010519491231002X","image_url":"https://img.example/a.jpg","validity_begin":"20200101","validity_end":"20400101"}`

// keyCases seed FuzzCheckKeysFast; want is CheckKeys' answer with
// checkSchema ("" accepted).
var keyCases = []struct{ body, want string }{
	{encryptedBody, ""},
	{plainBody, ""},
	{`{}`, ""},
	{`[]`, ""},
	{`"x"`, ""},
	{`null`, ""},
	{` {"name" : "a" , "id_card":"1"} `, ""},
	{`{"name":"a","name":"b"}`, "duplicate field name: each field may appear once"},
	{`{"name":"a","n\u0061me":"b"}`, "duplicate field name: each field may appear once"},
	{`{"x":1,"x":2}`, "duplicate key in the request body: each key may appear once in an object"},
	{`{"x\"":1,"x\u0022":2}`, "duplicate key in the request body: each key may appear once in an object"},
	{`{"x":"a\"b","y":"\\","x":1}`, "duplicate key in the request body: each key may appear once in an object"},
	{`{"NAME":"a"}`, `unknown field "NAME": field names are case-sensitive (name)`},
	{`{"N\u0041ME":"a"}`, `unknown field "NAME": field names are case-sensitive (name)`},
	{`{"encryption":{"IV":"a"}}`, `unknown field "encryption.IV": field names are case-sensitive (encryption.iv)`},
	{`{"encryption":{"iv":"a","iv":"b"}}`, "duplicate field encryption.iv: each field may appear once"},
	{`{"encryption":{"encrypt_liſt":[]}}`, `unknown field "encryption.encrypt_liſt": field names are case-sensitive (encryption.encrypt_list)`},
	{`{"encryption":null,"encryption":{}}`, "duplicate field encryption: each field may appear once"},
	{`{"other":{"NAME":1,"IV":2},"x":[1,{"y":2}]}`, ""},
	{`{"x":{"a":1},"y":{"a":1}}`, ""},
	{`{"x":[{"a":1,"a":1}]}`, "duplicate key in the request body: each key may appear once in an object"},
	{`[{"name":1},{"name":1,"name":2}]`, "duplicate key in the request body: each key may appear once in an object"},
	{`[{"NAME":1}]`, ""},
	{`{"x":{"encryption":{"IV":1}}}`, ""},
	{`{"encryption":[{"IV":1}]}`, ""},
	{`{"a":{"b":{"c":{"d":[[{"e":1,"f":{"g":2}},{"e":1,"e":2}]]}}}}`, "duplicate key in the request body: each key may appear once in an object"},
	{`{"a":{"b":1},"a":2}`, "duplicate key in the request body: each key may appear once in an object"},
	{`{"a":{"a":{"a":1}},"b":1}`, ""},
	{`{"姓名":"张三","姓名":"李四"}`, "duplicate key in the request body: each key may appear once in an object"},
	{`{"姓名":"张三","名":1}`, ""},
	{"{\"\xff\":1,\"\xfe\":2}", "duplicate key in the request body: each key may appear once in an object"},
	{"{\"\xff\":1,\"\uFFFD\":2}", "duplicate key in the request body: each key may appear once in an object"},
	{"{\"nam\xff\":1}", ""},
	{`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"a":19}`,
		"duplicate key in the request body: each key may appear once in an object"},
	{`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":{"a":1},"r":18,"q":19}`,
		"duplicate key in the request body: each key may appear once in an object"},
	{`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"Name":18}`,
		`unknown field "Name": field names are case-sensitive (name)`},
	{`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"s":{"a":1}}`, ""},
	{`{"` + strings.Repeat("k", 40) + `":1,"` + strings.Repeat("k", 40) + `":2}`, "duplicate key in the request body: each key may appear once in an object"},
	{`{"name":"a","id_card":"1","encryption":{"encrypt_list":["name"],"ciphertext_blob":"AA==","iv":"AA==","algorithm":"SM4-GCM","tag_list":["AA=="]},"encryption":1}`,
		"duplicate field encryption: each field may appear once"},
	{`{"":1,"":2}`, "duplicate key in the request body: each key may appear once in an object"},
	{`{"a":[],"b":{},"c":[{}],"d":"}","e":"{\"","f":-1.5e3,"g":true,"h":false,"i":null}`, ""},
}

func TestCheckKeys(t *testing.T) {
	for _, tc := range keyCases {
		for name, check := range map[string]func([]byte, *KeySchema) error{"CheckKeys": CheckKeys, "checkKeysTokens": checkKeysTokens} {
			got := ""
			if err := check([]byte(tc.body), &checkSchema); err != nil {
				got = err.Error()
				if !IsRequestError(err) {
					t.Errorf("%s(%s): %v is not a RequestError", name, tc.body, err)
				}
			}
			if got != tc.want {
				t.Errorf("%s(%s)\n got %q\nwant %q", name, tc.body, got, tc.want)
			}
		}
	}
}

// TestCheckKeysScans: bodies whose keys are written as-is are answered by
// the scanner, not handed to the tokenizer.
func TestCheckKeysScans(t *testing.T) {
	for _, body := range []string{encryptedBody, plainBody, `{"x":[{"a":1,"a":1}]}`, `{"name":"a\"\\\u5f20"}`, `{"姓名":1}`} {
		if ok, _ := scanKeys([]byte(body), &checkSchema); !ok {
			t.Errorf("scanKeys(%s) did not answer", body)
		}
	}
	for _, body := range []string{`{"n\u0061me":1}`, "{\"\xff\":1}", `{"a":1`, `}`} {
		if ok, _ := scanKeys([]byte(body), &checkSchema); ok {
			t.Errorf("scanKeys(%q) answered; want it left to the tokenizer", body)
		}
	}
}

// TestCheckKeysAllocations: a check request, encrypted or not, costs the
// scanner nothing.
func TestCheckKeysAllocations(t *testing.T) {
	for _, body := range []string{encryptedBody, plainBody} {
		b := []byte(body)
		if n := testing.AllocsPerRun(100, func() { _ = CheckKeys(b, &checkSchema) }); n != 0 {
			t.Errorf("CheckKeys(%s): %v allocations, want 0", body, n)
		}
	}
}

// FuzzCheckKeysFast: for every valid JSON body and every schema, CheckKeys
// answers exactly as the tokenizer does (no error, or the same message),
// and whatever the body, it never panics.
func FuzzCheckKeysFast(f *testing.F) {
	for _, tc := range keyCases {
		f.Add([]byte(tc.body))
	}
	for _, tc := range flatCases {
		f.Add([]byte(tc.body))
	}
	for _, s := range []string{
		`{"IdCard":"1","Idcard":"2"}`, `{"Encryption":{"IV":"a","Iv":"b"}}`, `{"kind":1}`, `{"\u212aind":1}`,
		`{"SIZE":1}`, `{"size":1}`, `{"device":{"os":1,"OS":2}}`, `{"device":{"Model":1}}`,
		`{"device":[{"model":1,"model":2}]}`, `[[[[{"a":{"b":[{"c":1,"c":2}]}}]]]]`,
		`{"a":"\\\"","a":1}`, `{"a\/b":1,"a/b":2}`, `{"\ud800":1,"\udc00":2}`, "{\"\xed\xa0\x80\":1,\"\xed\xb0\x80\":2}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, schema := range keySchemas {
			got := CheckKeys(body, schema)
			if !json.Valid(body) {
				continue // only never panic
			}
			want := checkKeysTokens(body, schema)
			if (got == nil) != (want == nil) || (got != nil && got.Error() != want.Error()) {
				t.Fatalf("%q with %v: CheckKeys %v; tokenizer %v", body, schema.Fields, got, want)
			}
		}
	})
}

func BenchmarkCheckKeys(b *testing.B) {
	for _, body := range []struct{ name, body string }{{"encrypted", encryptedBody}, {"plain", plainBody}} {
		for _, check := range []struct {
			name string
			f    func([]byte, *KeySchema) error
		}{{"tokens", checkKeysTokens}, {"scan", CheckKeys}} {
			b.Run(body.name+"/"+check.name, func(b *testing.B) {
				data := []byte(body.body)
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if err := check.f(data, &checkSchema); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestEqualFold: the scanner's case comparison is strings.EqualFold's,
// including the non-ASCII letters that fold to ASCII ones.
func TestEqualFold(t *testing.T) {
	words := []string{"", "k", "K", "\u212a", "s", "S", "ſ", "kind", "KIND", "\u212aind", "ſize", "size", "SIZE", "sizes", "iv", "IV", "Iv", "é", "É", "name", "nam", "names", "tag_list", "tag_liſt", "_", "@", "`", "[", "{"}
	for _, key := range words {
		for _, name := range words {
			want := strings.EqualFold(key, name)
			if got := equalFold([]byte(key), isASCII(key), name); got != want {
				t.Errorf("equalFold(%q, %q) = %v, want %v", key, name, got, want)
			}
		}
	}
}

package upstream

import (
	"encoding/json"
	"strings"
	"testing"
)

// validCases are JSON texts on either side of every rule validJSON
// implements; encoding/json.Valid is the reference for each.
var validCases = []string{
	`{"result":"0","description":"Name and ID card number are consistent"}`,
	`{}`, `[]`, `{ }`, `[ ]`, ` {"a" : [ 1 , 2 ] } `, "\t\n\r{}\n",
	`""`, `"a"`, `0`, `-0`, `1`, `-12`, `1.5`, `1e5`, `1E+5`, `1e-5`, `-0.0e0`, `123456789012345678901234567890`,
	`true`, `false`, `null`, `[true,false,null]`,
	`{"a":{"b":{"c":[[[]]]}}}`, `[{"x":"]"},{"y":"}"}]`,
	`"\"\\\/\b\f\n\r\t"`, `"\u0041\u00e9\uD83D\uDE00"`, `"\uZZZZ"`, `"\u12"`, `"\x"`, `"\`, `"a`,
	"\"tab\there\"", "\"nl\nhere\"", "\"\x7f\"", "\"\xff\xfe\"", "\"中文\"",
	``, ` `, `{`, `}`, `[`, `]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a" 1}`, `{1:2}`,
	`{"a":1}{"b":2}`, `{} {}`, `{"a":1}x`, `[1 2]`, `01`, `-`, `-a`, `+1`, `.5`, `1.`, `1.e5`, `1e`, `1e+`, `0x10`,
	`tru`, `truex`, `nul`, `nulll`, `fals`, `True`, `NaN`, `Infinity`, `'a'`, "\ufeff{}",
}

func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	for _, c := range validCases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%q) = %v, encoding/json says %v", c, got, want)
		}
	}
}

// encoding/json refuses nesting deeper than 10,000; so must we, at the
// same depth.
func TestValidJSONDepth(t *testing.T) {
	for _, tc := range []struct {
		depth int
		open  string
		close string
	}{
		{maxDepth, "[", "]"}, {maxDepth + 1, "[", "]"},
		{maxDepth, `{"a":`, "}"}, {maxDepth + 1, `{"a":`, "}"},
	} {
		b := []byte(strings.Repeat(tc.open, tc.depth) + "0" + strings.Repeat(tc.close, tc.depth))
		if got, want := validJSON(b), json.Valid(b); got != want || got != (tc.depth <= maxDepth) {
			t.Errorf("depth %d of %s: validJSON %v, encoding/json %v", tc.depth, tc.open, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	answer := []byte(`{"result":"0","description":"Name and ID card number are consistent"}`)
	for _, bc := range []struct {
		name string
		fn   func([]byte) bool
	}{{"validJSON", validJSON}, {"encoding-json", json.Valid}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !bc.fn(answer) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// It runs on every answer: it must not allocate.
func TestValidJSONAllocatesNothing(t *testing.T) {
	answer := []byte(`{"result":"0","description":"x","n":[1,{"a":null}]}`)
	if n := testing.AllocsPerRun(100, func() { validJSON(answer) }); n != 0 {
		t.Fatalf("%v allocations per answer", n)
	}
}

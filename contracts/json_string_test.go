package contracts

import (
	"encoding/json"
	"testing"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain ascii", `quo"te back\slash`, "\x00\x01\b\f\n\r\t\x1f\x7f", "<a href=x>&amp;</a>",
		"张三", "bad \xff utf8 \xc3", "line\u2028para\u2029end", "mixed 张\n\xfe<",
	} {
		checkJSONString(t, s)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff", "\u2028", "<&>", "张三\n"} {
		f.Add(s)
	}
	f.Fuzz(checkJSONString)
}

func checkJSONString(t *testing.T, s string) {
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("json.Marshal(%q): %v", s, err)
	}
	if got := AppendJSONString(nil, s); string(got) != string(want) {
		t.Errorf("AppendJSONString(%q) = %s, want %s", s, got, want)
	}
}

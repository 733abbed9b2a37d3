package billing

import (
	"testing"
)

func TestClassifyPerRoute(t *testing.T) {
	check, err := NewTable(CheckRoute())
	if err != nil {
		t.Fatal(err)
	}
	// The sibling API with a validity period numbers its codes differently.
	sibling, err := NewTable(RouteConfig{Name: "check-id-name-date", Results: map[string]Result{
		"0": {Billed: true}, "-1": {Billed: true}, "-2": {}, "-3": {}, "-4": {}, "-5": {}, "-6": {}, "-7": {}, "-8": {},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		table *Table
		code  string
		want  Class
		known bool
	}{
		{check, "0", Billed, true},
		{check, "-1", Billed, true},
		{check, "-5", NotBilled, true},
		{check, "-7", NotBilled, true},
		{check, "-8", UpstreamError, false},
		{check, "", UpstreamError, false},
		{sibling, "-8", NotBilled, true},
		{sibling, "0", Billed, true},
		{sibling, "-9", UpstreamError, false},
	}
	for _, tc := range cases {
		c, known := tc.table.Classify([]byte(tc.code))
		if c != tc.want || known != tc.known {
			t.Errorf("Classify(%q) = %s, %v; want %s, %v", tc.code, c, known, tc.want, tc.known)
		}
	}
	if _, err := NewTable(RouteConfig{Name: "empty"}); err == nil {
		t.Fatal("empty table accepted")
	}
}

package cache

import (
	"strings"
	"testing"

	"github.com/idgate/idgate/contracts"
)

// FuzzKey: two requests that differ in any canonical field never share a
// key (the fields are length-prefixed, so no splice of one into the next
// collides), equal requests always do, and no field appears in the key.
func FuzzKey(f *testing.F) {
	f.Add("张三", "11010519491231002X", "", "", "", "张三1", "1010519491231002X", "", "", "")
	f.Add("a", "b", "20200101", "00000000", "https://x", "a", "b", "20200101", "00000000", "https://x")
	f.Add("ab", "", "", "", "", "a", "b", "", "", "")
	c := newCache(f, nil)
	f.Fuzz(func(t *testing.T, n1, i1, b1, e1, u1, n2, i2, b2, e2, u2 string) {
		r1 := contracts.CheckRequest{Name: n1, IDCard: i1, ValidityBegin: b1, ValidityEnd: e1, ImageURL: u1}
		r2 := contracts.CheckRequest{Name: n2, IDCard: i2, ValidityBegin: b2, ValidityEnd: e2, ImageURL: u2}
		l1, ok1 := c.Key("t", "check-2e", &r1)
		l2, ok2 := c.Key("t", "check-2e", &r2)
		if !ok1 || !ok2 {
			t.Fatal("plaintext request not cacheable")
		}
		if (r1 == r2) != (l1.Key == l2.Key) {
			t.Fatalf("requests equal %v, keys equal %v", r1 == r2, l1.Key == l2.Key)
		}
		back, ok := LookupFromKey(l1.Key)
		// The time an answer was asked for is not part of the key: the
		// flight stamps its own.
		if !ok || back.Key != l1.Key || back.identity != l1.identity {
			t.Fatal("LookupFromKey does not invert Key")
		}
		for _, s := range []string{n1, i1} {
			if len(s) >= 4 && strings.Contains(l1.Key, s) {
				t.Fatalf("key contains %q", s)
			}
		}
	})
}

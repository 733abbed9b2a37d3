package ledger

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestSearch: a search matches request id, upstream id, class, tenant and
// day exactly, answers newest first, at most limit, and says when more
// matched.
func TestSearch(t *testing.T) {
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"))
	ctx := context.Background()
	for i := range 6 {
		class, billed := "billed", true
		if i%3 == 0 {
			class, billed = "not_billed", false
		}
		day := "2026-11-22"
		if i == 5 {
			day = "2026-11-23"
		}
		if err := l.Record(Entry{Time: time.Unix(int64(1000+i), 0), Day: day, RequestID: fmt.Sprintf("r%d", i), Tenant: fmt.Sprintf("t%d", i%2),
			KeyID: "k", Route: "check-2e", Result: "0", Class: class, Billed: billed, HTTPStatus: 200, IDMasked: "110101********0010",
			UpstreamID: fmt.Sprintf("up-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	ids := func(rows []SearchRow) (s []string) {
		for _, r := range rows {
			s = append(s, r.RequestID)
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		f     Filter
		m     Match
		limit int
		want  string
		more  bool
	}{
		{"by request id", Filter{}, Match{RequestID: "r2"}, 10, "[r2]", false},
		{"by upstream id", Filter{}, Match{UpstreamID: "up-4"}, 10, "[r4]", false},
		{"by class, newest first", Filter{}, Match{Class: "not_billed"}, 10, "[r3 r0]", false},
		{"by tenant and day", Filter{Tenant: "t1", From: "2026-11-22", To: "2026-11-22"}, Match{}, 10, "[r3 r1]", false},
		{"limited", Filter{}, Match{Class: "billed"}, 2, "[r5 r4]", true},
		{"request id is exact", Filter{}, Match{RequestID: "r"}, 10, "[]", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, more, err := l.Search(ctx, tc.f, tc.m, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(ids(rows)); got != tc.want || more != tc.more {
				t.Errorf("got %s more=%v, want %s more=%v", got, more, tc.want, tc.more)
			}
			for _, r := range rows {
				if r.IDMasked != "110101********0010" || r.Billed != (r.Class == "billed") || r.Time == "" {
					t.Errorf("row %+v", r)
				}
			}
		})
	}
}

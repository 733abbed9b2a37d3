package ledger

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestUnresolved: the unknown entries of the days asked for, oldest first,
// less those a resolution (billed or not) already answers.
func TestUnresolved(t *testing.T) {
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"))
	ctx := context.Background()
	for i, e := range []struct{ day, class string }{
		{"2026-11-22", "unknown"}, {"2026-11-22", "billed"}, {"2026-11-22", "unknown"},
		{"2026-11-22", "unknown"}, {"2026-11-23", "unknown"}, {"2026-11-22", "unknown"},
	} {
		if err := l.Record(Entry{Time: time.Unix(int64(1000+i), 0), Day: e.day, RequestID: fmt.Sprintf("r%d", i), Tenant: "t",
			KeyID: "k", Route: "check-2e", Class: e.class, Billed: e.class == "billed", IDMasked: "110101********0010"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := l.Resolve(ctx, []Entry{
		{Time: time.Unix(2000, 0), Day: "2026-11-22", RequestID: "r2", Tenant: "t", KeyID: "k", Route: "check-2e", Class: ClassResolvedBilled, Result: "0"},
		{Time: time.Unix(2001, 0), Day: "2026-11-22", RequestID: "r3", Tenant: "t", KeyID: "k", Route: "check-2e", Class: ClassResolvedNotBilled},
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"2026-11-22", "2026-11-22", "[r0 r5]"},
		{"2026-11-22", "2026-11-23", "[r0 r4 r5]"},
		{"2026-11-24", "2026-11-30", "[]"},
	} {
		got, err := l.Unresolved(ctx, tc.from, tc.to)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.RequestID)
		}
		if s := fmt.Sprint(ids); s != tc.want {
			t.Errorf("%s..%s: got %s, want %s", tc.from, tc.to, s, tc.want)
		}
	}
}

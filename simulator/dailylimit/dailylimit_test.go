package dailylimit

import (
	"testing"
	"time"
)

var shanghai = time.FixedZone("CST", 8*3600)

func TestLimitPerNumberPerDay(t *testing.T) {
	l := New(2, shanghai, 1000, nil)
	day1 := time.Date(2026, 5, 1, 15, 0, 0, 0, time.UTC) // 23:00 in China
	steps := []struct {
		id   string
		at   time.Time
		want bool
	}{
		{"A", day1, true},
		{"A", day1, true},
		{"A", day1, false},
		{"A", day1, false}, // refusals do not count, but still refuse
		{"B", day1, true},
		{"A", day1.Add(59 * time.Minute), false}, // 23:59 China
		{"A", day1.Add(61 * time.Minute), true},  // 00:01 next day China
		{"A", day1.Add(62 * time.Minute), true},
		{"A", day1.Add(63 * time.Minute), false},
	}
	for i, s := range steps {
		if got := l.Allow(s.id, s.at); got != s.want {
			t.Errorf("step %d (%s at %s): %v, want %v", i, s.id, s.at, got, s.want)
		}
	}
	l.Reset()
	if !l.Allow("A", day1.Add(63*time.Minute)) {
		t.Error("reset did not forget")
	}
}

func TestTableFullFailsOpen(t *testing.T) {
	untracked := 0
	l := New(1, time.UTC, 64, func() { untracked++ }) // one number per shard
	now := time.Now()
	ids := []string{}
	for i := 0; i < 1000; i++ {
		ids = append(ids, string(rune('a'+i%26))+string(rune('A'+i/26)))
	}
	for _, id := range ids {
		if !l.Allow(id, now) {
			t.Fatalf("first verification of %s refused", id)
		}
	}
	if untracked == 0 {
		t.Error("a full table reported nothing")
	}
}

func TestDayNumber(t *testing.T) {
	if d := dayNumber(time.Date(1970, 1, 1, 15, 59, 59, 0, time.UTC), shanghai); d != 0 {
		t.Errorf("day %d", d)
	}
	if d := dayNumber(time.Date(1970, 1, 1, 16, 0, 0, 0, time.UTC), shanghai); d != 1 {
		t.Errorf("day %d", d)
	}
	if d := dayNumber(time.Date(1969, 12, 31, 12, 0, 0, 0, time.UTC), time.UTC); d != -1 {
		t.Errorf("day %d", d)
	}
}

package journal

import (
	"strconv"
	"sync"
	"testing"
)

func TestRingKeepsNewestOldestFirst(t *testing.T) {
	cases := []struct {
		size, add, limit int
		want             []string
	}{
		{3, 0, 10, nil},
		{3, 2, 0, []string{"0", "1"}},
		{3, 5, 0, []string{"2", "3", "4"}},
		{3, 5, 2, []string{"3", "4"}},
		{3, 7, 1, []string{"6"}},
		{1, 4, 5, []string{"3"}},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.size)+"/"+strconv.Itoa(tc.add)+"/"+strconv.Itoa(tc.limit), func(t *testing.T) {
			j := New(tc.size, true)
			for i := 0; i < tc.add; i++ {
				j.Add(Entry{Result: strconv.Itoa(i)})
			}
			got := j.Last(tc.limit)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d entries, want %d", len(got), len(tc.want))
			}
			for i, e := range got {
				if e.Result != tc.want[i] {
					t.Errorf("entry %d = %s, want %s", i, e.Result, tc.want[i])
				}
				if i > 0 && e.Seq != got[i-1].Seq+1 {
					t.Errorf("seq not consecutive: %d after %d", e.Seq, got[i-1].Seq)
				}
			}
		})
	}
}

func TestSwitchAndReset(t *testing.T) {
	j := New(4, false)
	j.Add(Entry{})
	if j.Len() != 0 || j.Enabled() {
		t.Fatal("disabled journal recorded")
	}
	j.SetEnabled(true)
	j.Add(Entry{})
	j.Add(Entry{})
	j.SetEnabled(false)
	j.Add(Entry{})
	if j.Len() != 2 {
		t.Fatalf("len %d, want 2", j.Len())
	}
	j.Reset()
	if j.Len() != 0 || len(j.Last(0)) != 0 {
		t.Fatal("reset kept entries")
	}
	j.SetEnabled(true)
	j.Add(Entry{})
	if j.Last(1)[0].Seq != 1 {
		t.Error("numbering did not restart")
	}
	if New(0, true).Size() != 1 {
		t.Error("size below 1 not raised")
	}
}

func TestConcurrentAdds(t *testing.T) {
	j := New(100, true)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				j.Add(Entry{})
				_ = j.Last(5)
			}
		}()
	}
	wg.Wait()
	last := j.Last(0)
	if len(last) != 100 || last[99].Seq != 2000 {
		t.Errorf("len %d, last seq %d", len(last), last[len(last)-1].Seq)
	}
}

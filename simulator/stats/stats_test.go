package stats

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/fault"
)

func TestBillingFollowsContract(t *testing.T) {
	for i, r := range contracts.Results {
		var c Counter
		c.Answer(i)
		got := c.Counts()
		wantBilled := int64(0)
		if r.Billing == contracts.Billed {
			wantBilled = 1
		}
		if got.Billed != wantBilled || got.Billed+got.NotBilled != 1 || got.Results[string(r.Code)] != 1 || got.Statuses["200"] != 1 {
			t.Errorf("%s: %+v", r.Code, got)
		}
	}
	var c Counter
	c.Error(StatusIndex(429))
	c.Error(StatusIndex(503)) // unknown statuses count as 500
	c.Fault(fault.Hang)
	got := c.Counts()
	if got.Requests != 3 || got.NotBilled != 3 || got.Statuses["429"] != 1 || got.Statuses["500"] != 1 || got.Faults["hang"] != 1 {
		t.Errorf("%+v", got)
	}
	if ResultIndex("-9") != -1 || ResultIndex(contracts.ResultDailyLimit) != 7 {
		t.Error("ResultIndex")
	}
}

func TestBookSnapshotShape(t *testing.T) {
	b := NewBook([]string{"a", "b", "a"})
	b.Totals.Answer(0)
	b.Token("a").Answer(0)
	if b.Token("zzz") != nil {
		t.Fatal("unknown token has a counter")
	}
	raw, _ := json.Marshal(b.Snapshot())
	var m map[string]map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"requests", "results", "statuses", "faults", "billed", "not_billed"} {
		if _, ok := m["totals"][key]; !ok {
			t.Errorf("totals lack %s: %s", key, raw)
		}
	}
	if len(m["tokens"]) != 2 {
		t.Errorf("tokens %v", m["tokens"])
	}
	b.Reset()
	if s := b.Snapshot(); s.Totals.Requests != 0 || s.Tokens["a"].Billed != 0 {
		t.Errorf("after reset %+v", s)
	}
}

func TestConcurrentCounting(t *testing.T) {
	var c Counter
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				c.Answer(i % len(contracts.Results))
				_ = c.Counts()
			}
		}()
	}
	wg.Wait()
	got := c.Counts()
	if got.Requests != 4000 || got.Billed+got.NotBilled != 4000 || got.Billed != 1000 {
		t.Errorf("%+v", got)
	}
}

package cache

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/idcard"
)

// BenchmarkMillionEntries fills the default budget (max_bytes of
// configs/gateway.yaml) with one million distinct answers and reports what
// it costs: the cache's own accounting and the process RSS.
//
//	go test -run '^$' -bench MillionEntries -benchtime 1x ./gateway/cache
func BenchmarkMillionEntries(b *testing.B) {
	const n = 1_000_000
	budget := DefaultConfig().MaxBytes
	for range b.N {
		runtime.GC()
		rss0 := rss()
		c := newCache(b, nil)
		body := []byte(`{"result":"0","description":"Name and ID card number are consistent"}`)
		ids := make([]Lookup, 0, 1000)
		r := contracts.CheckRequest{Name: "张三"}
		for i := range n {
			r.IDCard = idNumber(i)
			l, _ := c.Key("demo", "check-2e", &r)
			c.Put(l, "check-2e", "0", body)
			if i%1000 == 0 {
				ids = append(ids, l)
			}
			if i%8192 == 0 {
				c.Wait() // ristretto drops stores when its buffer is full
			}
		}
		c.Wait()
		runtime.GC()
		debug.FreeOSMemory()
		s := c.Stats()
		hits := 0
		for _, l := range ids {
			if _, _, ok := c.Get(l); ok {
				hits++
			}
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(s.CostBytes)/(1<<20), "cost_MiB")
		b.ReportMetric(float64(budget)/(1<<20), "budget_MiB")
		b.ReportMetric(float64(rss()-rss0)/(1<<20), "rss_delta_MiB")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap_inuse_MiB")
		b.ReportMetric(float64(hits)/float64(len(ids))*100, "sample_hit_%")
		b.Logf("1e6 answers: %+v; RSS %.0f MiB (Δ %.0f MiB), heap in use %.0f MiB, %d/%d sampled entries present",
			s, float64(rss())/(1<<20), float64(rss()-rss0)/(1<<20), float64(ms.HeapInuse)/(1<<20), hits, len(ids))
		if s.CostBytes > s.MaxBytes || s.Evictions > 0 || float64(hits) < 0.99*float64(len(ids)) {
			b.Errorf("1e6 answers do not fit in %d bytes: %+v, %d/%d present", budget, s, hits, len(ids))
		}
		c.Close()
	}
}

// idNumber makes the i-th distinct ID number (the cache does not validate;
// the check character keeps it realistic).
func idNumber(i int) string {
	base := "1101" + pad(i, 7) + "199001"
	return base + string(idcard.CheckChar(base))
}

func pad(v, w int) string {
	s := strconv.Itoa(v)
	for len(s) < w {
		s = "0" + s
	}
	return s
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("VmRSS:")) {
			f := bytes.Fields(line[6:])
			kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
			return kb << 10
		}
	}
	return 0
}

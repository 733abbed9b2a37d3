package wal

import (
	"testing"
)

// BenchmarkAppendParallel: 32 goroutines per CPU appending 64..256-byte
// records, releasing as a consumer would (segments rotate and are deleted
// as in production).
func BenchmarkAppendParallel(b *testing.B) {
	for _, mode := range []SyncMode{SyncProcess, SyncPower} {
		b.Run(string(mode), func(b *testing.B) {
			l, err := Open(Config{Dir: b.TempDir(), Sync: mode}, discard())
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.SetParallelism(32)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				rec := make([]byte, 256)
				for i := range rec {
					rec[i] = byte('a' + i%26)
				}
				for i := 0; pb.Next(); i++ {
					pos, err := l.Append(rec[:64+(i*61)%193])
					if err != nil {
						b.Error(err)
						return
					}
					if i%1024 == 1023 {
						l.Release(pos)
					}
				}
			})
			b.StopTimer()
			s := l.Stats()
			b.ReportMetric(float64(s.Written)/float64(b.N), "B/record")
			b.ReportMetric(float64(b.N)/float64(s.Groups), "records/write")
		})
	}
}

// BenchmarkAppendSerial: one appender, so every Append is a group of its
// own: the latency of one write(2) (and fdatasync in power mode).
func BenchmarkAppendSerial(b *testing.B) {
	for _, mode := range []SyncMode{SyncProcess, SyncPower} {
		b.Run(string(mode), func(b *testing.B) {
			l, err := Open(Config{Dir: b.TempDir(), Sync: mode}, discard())
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			rec := make([]byte, 160)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pos, err := l.Append(rec)
				if err != nil {
					b.Fatal(err)
				}
				if i%1024 == 1023 {
					l.Release(pos)
				}
			}
		})
	}
}

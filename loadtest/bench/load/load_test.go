package load

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestPace(t *testing.T) {
	const interval = time.Millisecond
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		total   int
		failAt  int // wait fails on this call (0: never)
		wantErr error
	}{
		{name: "none", total: 0},
		{name: "one", total: 1},
		{name: "several", total: 7},
		{name: "wait fails", total: 7, failAt: 2, wantErr: boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			var released []int
			waits := 0
			wait := func() error {
				waits++
				if waits == tc.failAt {
					return boom
				}
				time.Sleep(interval / 4)
				return nil
			}
			err := pace(start, interval, tc.total, wait, func(i int, due time.Time) {
				if want := start.Add(time.Duration(i) * interval); !due.Equal(want) {
					t.Errorf("request %d due %v, want %v", i, due.Sub(start), want.Sub(start))
				}
				if now := time.Now(); now.Before(due) {
					t.Errorf("request %d released %v before it was due", i, due.Sub(now))
				}
				released = append(released, i)
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			want := tc.total
			if tc.wantErr != nil {
				want = len(released) // stopped early, but in order
				if want >= tc.total {
					t.Fatalf("released all %d requests after wait failed", want)
				}
			}
			if len(released) != want {
				t.Fatalf("released %d requests, want %d", len(released), want)
			}
			for i, r := range released {
				if r != i {
					t.Fatalf("released %v, want 0..%d in order", released, want-1)
				}
			}
		})
	}
}

func TestTickerWaitsForItsPeriod(t *testing.T) {
	const every = 2 * time.Millisecond
	tk, err := newTicker(every)
	if err != nil {
		t.Fatal(err)
	}
	defer tk.stop()
	start := time.Now()
	for i := 0; i < 3; i++ {
		if err := tk.wait(); err != nil {
			t.Fatal(err)
		}
	}
	// Three ticks cannot come before three periods have passed.
	if got := time.Since(start); got < 3*every-every/2 {
		t.Fatalf("three ticks in %v, period %v", got, every)
	}
}

func TestFixedRateCountsEveryScheduledRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Request.Header.Peek("Authorization")) != "Bearer k" {
			ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		}
	}}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	defer srv.Shutdown()
	for _, tc := range []struct {
		name       string
		token      string
		wantNon200 bool
	}{
		{name: "answered", token: "k"},
		{name: "refused", token: "other", wantNon200: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const rate, d = 2000, 300 * time.Millisecond
			res, err := FixedRate(Target{Addr: ln.Addr().String(), Path: "/", Token: tc.token, Bodies: [][]byte{[]byte("{}")}}, rate, d)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(rate * d.Seconds()); res.Requests != want {
				t.Errorf("%d requests counted, want %d", res.Requests, want)
			}
			if res.Errors != 0 {
				t.Errorf("%d errors", res.Errors)
			}
			if got := res.Non200 == res.Requests; got != tc.wantNon200 {
				t.Errorf("non-200 %d of %d", res.Non200, res.Requests)
			}
			if res.Percentile(100) <= 0 {
				t.Errorf("no latency recorded")
			}
		})
	}
}

// Two replicas: the generator's own balancing sends each its share, in
// both loops, and every request to one of them.
func TestLoadSplitsAcrossReplicas(t *testing.T) {
	var counts [2]atomic.Int64
	var addrs [2]string
	for i := range counts {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { counts[i].Add(1) }}
		go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
		defer srv.Shutdown()
		addrs[i] = ln.Addr().String()
	}
	target := Target{Addr: addrs[0], Addrs: addrs[1:], Path: "/", Bodies: [][]byte{[]byte("{}")}}
	check := func(loop string, total int64) {
		t.Helper()
		a, b := counts[0].Swap(0), counts[1].Swap(0)
		if a+b != total {
			t.Errorf("%s: replicas saw %d + %d requests, the generator counted %d", loop, a, b, total)
		}
		// Even split of the workers; the faster half may do more of the
		// work, but neither replica may be left idle or take nearly all.
		if a < total/5 || b < total/5 {
			t.Errorf("%s: split %d / %d, want both a fair share", loop, a, b)
		}
	}
	res := Saturate(target, 8, 200*time.Millisecond)
	if res.Errors != 0 || res.Requests == 0 {
		t.Fatalf("saturate: %d requests, %d errors", res.Requests, res.Errors)
	}
	check("saturate", res.Requests)
	fr, err := FixedRate(target, 2000, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// FixedRate's warm-up requests reach the replicas but are not counted.
	check("fixed rate", fr.Requests+int64(2000*FixedRateWarmup.Seconds()))
}

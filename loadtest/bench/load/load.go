// Package load is the benchmark's load generator: a closed loop of
// keep-alive connections for throughput at saturation, and an open loop at
// a fixed arrival rate for latency percentiles. It uses fasthttp's client,
// which costs a fraction of k6's CPU per request; on a 2-core machine the
// generator shares the cores with the servers, so every byte it saves is
// capacity the servers keep.
package load

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
)

// Target is what the generator hits.
type Target struct {
	Addr string // host:port
	// Addrs, when set, are further replicas of the same server: the
	// generator splits its connections evenly across Addr and Addrs (worker
	// i keeps to replica i mod n), as a client-side balancer would, so
	// every replica sees its share of the load without a proxy's cost.
	Addrs  []string
	Path   string
	Token  string
	Bodies [][]byte // cycled through, one per request
	// Tencent, when set, sends every request in the Tencent Cloud API 3.0
	// dialect instead: POST / with the action's headers, signed afresh with
	// TC3-HMAC-SHA256 as the official SDKs sign (Bodies must then be
	// FaceID bodies, see TencentBodies). An answer counts as OK when it
	// carries no Response.Error.
	Tencent *Tencent
}

// Tencent is an API 3.0 client's identity and the action it calls.
type Tencent struct {
	Action string
	Signer *tencent.Signer
}

// Result summarises one run.
type Result struct {
	Requests int64
	Errors   int64
	Non200   int64
	// FirstFailure describes the first failed request (its error, or its
	// status and the start of its body), so a report can say what failed.
	FirstFailure string
	Duration     time.Duration
	Latencies    []time.Duration // sorted
}

// RPS is completed requests per second.
func (r Result) RPS() float64 { return float64(r.Requests) / r.Duration.Seconds() }

// Percentile returns the p-th percentile latency (0 < p <= 100).
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies))*p/100+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(r.Latencies) {
		i = len(r.Latencies) - 1
	}
	return r.Latencies[i]
}

// replicas is Addr and Addrs.
func (t Target) replicas() []string { return append([]string{t.Addr}, t.Addrs...) }

// newClients is one client per replica, the workers' conns split evenly
// (the first ones take the remainder); worker i uses clients[i%len].
func newClients(t Target, conns int) []*fasthttp.HostClient {
	addrs := t.replicas()
	cs := make([]*fasthttp.HostClient, len(addrs))
	for i, a := range addrs {
		n := conns / len(addrs)
		if i < conns%len(addrs) {
			n++
		}
		cs[i] = &fasthttp.HostClient{
			Addr:                a,
			MaxConns:            max(n, 1),
			ReadTimeout:         10 * time.Second,
			WriteTimeout:        10 * time.Second,
			MaxIdleConnDuration: time.Minute,
		}
	}
	return cs
}

type worker struct {
	req  *fasthttp.Request
	resp *fasthttp.Response
}

func (t Target) do(c *fasthttp.HostClient, w *worker, i int64) (ok200 bool, err error) {
	if t.Tencent != nil {
		return t.doTencent(c, w, i)
	}
	w.req.Reset()
	w.req.SetRequestURI("http://" + c.Addr + t.Path)
	w.req.Header.SetMethod(fasthttp.MethodPost)
	w.req.Header.SetContentType("application/json")
	if t.Token != "" {
		w.req.Header.Set("Authorization", "Bearer "+t.Token)
	}
	w.req.SetBody(t.Bodies[int(i)%len(t.Bodies)])
	if err := c.Do(w.req, w.resp); err != nil {
		return false, err
	}
	return w.resp.StatusCode() == fasthttp.StatusOK, nil
}

// doTencent is do in the Tencent Cloud API 3.0 dialect.
func (t Target) doTencent(c *fasthttp.HostClient, w *worker, i int64) (ok bool, err error) {
	body := t.Bodies[int(i)%len(t.Bodies)]
	ts := time.Now().Unix()
	w.req.Reset()
	w.req.SetRequestURI("http://" + c.Addr + "/")
	w.req.Header.SetMethod(fasthttp.MethodPost)
	w.req.Header.SetContentType("application/json")
	w.req.Header.Set(tencent.HeaderAction, t.Tencent.Action)
	w.req.Header.Set(tencent.HeaderVersion, tencent.Version)
	w.req.Header.Set(tencent.HeaderTimestamp, strconv.FormatInt(ts, 10))
	host, _, _ := strings.Cut(c.Addr, ":") // the Node SDK signs the hostname
	w.req.Header.Set("Authorization", t.Tencent.Signer.Authorization(host, "application/json", body, ts))
	w.req.SetBody(body)
	if err := c.Do(w.req, w.resp); err != nil {
		return false, err
	}
	return w.resp.StatusCode() == fasthttp.StatusOK && !bytes.Contains(w.resp.Body(), []byte(`"Error":{`)), nil
}

// TencentBodies are bodies (check-2e requests) in FaceID's form.
func TencentBodies(bodies [][]byte) ([][]byte, error) {
	out := make([][]byte, len(bodies))
	for i, b := range bodies {
		req, err := contracts.DecodeCheckRequest(b)
		if err != nil {
			return nil, fmt.Errorf("load: body %d: %w", i, err)
		}
		out[i] = tencent.AppendCheckRequest(nil, &req)
	}
	return out, nil
}

// Saturate runs conns workers back to back for d and reports throughput;
// with Addrs, the workers are split evenly across the replicas.
func Saturate(t Target, conns int, d time.Duration) Result {
	cs := newClients(t, conns)
	var n, errs, non200, seq atomic.Int64
	var first firstFailure
	var wg sync.WaitGroup
	stop := make(chan struct{})
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		c := cs[i%len(cs)]
		go func() {
			defer wg.Done()
			w := &worker{req: fasthttp.AcquireRequest(), resp: fasthttp.AcquireResponse()}
			for {
				select {
				case <-stop:
					return
				default:
				}
				ok, err := t.do(c, w, seq.Add(1))
				switch {
				case err != nil:
					errs.Add(1)
					first.note(err, nil)
				case !ok:
					non200.Add(1)
					first.note(nil, w.resp)
				}
				n.Add(1)
			}
		}()
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	return Result{Requests: n.Load(), Errors: errs.Load(), Non200: non200.Load(), Duration: time.Since(start), FirstFailure: first.String()}
}

// FixedRate sends rate requests per second for d, each on schedule whether
// or not earlier ones finished (an open loop, so slow answers cannot hide
// behind fewer requests), and reports latency from the scheduled time. A
// fixed pool of workers takes the schedule from a channel: spawning a
// goroutine per request would cost the generator more than the servers.
//
// The schedule starts with FixedRateWarmup at the same rate whose
// latencies are not counted: the generator's connections (and a proxy's
// upstream ones) open then. Counted from the first request, the handshakes
// of a few hundred new connections filled the first 100-200 ms with
// 40-70 ms answers — more than 1% of an 8 s run, so p99 measured start-up.
func FixedRate(t Target, rate int, d time.Duration) (Result, error) {
	if rate <= 0 {
		return Result{}, fmt.Errorf("load: rate must be positive")
	}
	interval := time.Second / time.Duration(rate)
	// The schedule starts before the ticker, so a tick never comes just
	// before its request is due, to release it only a tick later. Ticks
	// come no closer than 50 µs: at higher rates several requests share one.
	start := time.Now()
	tick, err := newTicker(max(interval, 50*time.Microsecond))
	if err != nil {
		return Result{}, err
	}
	defer tick.stop()
	const workers = 256
	cs := newClients(t, workers)
	for _, c := range cs {
		c.MaxConnWaitTimeout = 10 * time.Second
	}
	warm := int(float64(rate) * FixedRateWarmup.Seconds())
	total := warm + int(float64(rate)*d.Seconds())
	lat := make([]time.Duration, total)
	var errs, non200 atomic.Int64
	var first firstFailure
	type job struct {
		i   int
		due time.Time
	}
	jobs := make(chan job, workers*4)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		c := cs[w%len(cs)]
		go func() {
			defer wg.Done()
			wk := &worker{req: fasthttp.AcquireRequest(), resp: fasthttp.AcquireResponse()}
			for j := range jobs {
				ok, err := t.do(c, wk, int64(j.i))
				lat[j.i] = time.Since(j.due)
				switch {
				case j.i < warm:
				case err != nil:
					errs.Add(1)
					first.note(err, nil)
				case !ok:
					non200.Add(1)
					first.note(nil, wk.resp)
				}
			}
		}()
	}
	// The generator's own collections stalled the release of requests for
	// up to 19 ms (seen pinned to one CPU) and the run allocates a few
	// MiB at most.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	err = pace(start, interval, total, tick.wait, func(i int, due time.Time) { jobs <- job{i, due} })
	close(jobs)
	wg.Wait()
	if err != nil {
		return Result{}, err
	}
	lat = lat[warm:]
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	measured := start.Add(time.Duration(warm) * interval)
	return Result{Requests: int64(len(lat)), Errors: errs.Load(), Non200: non200.Load(), Duration: time.Since(measured), Latencies: lat, FirstFailure: first.String()}, nil
}

// pace calls release(i, due) for every i < total at or just after its due
// time, start + i*interval: the arrivals are evenly spaced, as those of
// k6's constant-arrival-rate executor. Between releases it waits for the
// ticker; requests whose time came while it waited go out together, so how
// evenly they arrive depends on how precisely the ticker wakes it.
func pace(start time.Time, interval time.Duration, total int, wait func() error, release func(i int, due time.Time)) error {
	for i := 0; i < total; {
		now := time.Now()
		for ; i < total; i++ {
			due := start.Add(time.Duration(i) * interval)
			if due.After(now) {
				break
			}
			release(i, due)
		}
		if i < total {
			if err := wait(); err != nil {
				return err
			}
		}
	}
	return nil
}

// FixedRateWarmup is the uncounted start of every FixedRate schedule.
const FixedRateWarmup = time.Second

// firstFailure keeps the description of the first failure noted.
type firstFailure struct {
	once sync.Once
	desc string
}

func (f *firstFailure) note(err error, resp *fasthttp.Response) {
	f.once.Do(func() {
		if err != nil {
			f.desc = err.Error()
			return
		}
		body := resp.Body()
		if len(body) > 200 {
			body = body[:200]
		}
		f.desc = fmt.Sprintf("%d %s", resp.StatusCode(), body)
	})
}

func (f *firstFailure) String() string {
	f.once.Do(func() {}) // the result is read after the workers stopped
	return f.desc
}

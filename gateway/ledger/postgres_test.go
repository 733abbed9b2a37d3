package ledger_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/stores"
	"github.com/idgate/idgate/internal/testkit"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// pgConfig is a ledger section whose journal lives in dir.
func pgConfig(dir string) ledger.Config {
	c := ledger.DefaultConfig()
	c.Path = filepath.Join(dir, "ledger.db")
	c.JournalDir = filepath.Join(dir, "journal")
	c.Linger = 2 * time.Millisecond
	c.BatchSize = 64
	c.InFlight = time.Hour // tests release the journal only at Close
	return c
}

func openPG(t testing.TB, conns *stores.Conns, dir string) (*ledger.Postgres, ledger.Recovery) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, rec, err := ledger.OpenPostgres(ctx, conns, pgConfig(dir), quiet)
	if err != nil {
		t.Fatal(err)
	}
	return l, rec
}

func openSQLite(t testing.TB, dir string) *ledger.SQLite {
	t.Helper()
	db, err := ledger.OpenDB(filepath.Join(dir, "parity.db"))
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(db, 1024, 64, time.Millisecond, quiet)
	t.Cleanup(func() { l.Close() })
	return l
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 123456789, time.UTC)

// entry is request id's entry of class on day (1 or 2 of December).
func entry(id, tenant, key string, day int, class billing.Class) ledger.Entry {
	at := t0.Add(time.Duration(day-1) * 24 * time.Hour).Add(time.Duration(len(id)) * time.Millisecond)
	return ledger.Entry{
		Time: at, Day: at.Format("2006-01-02"), RequestID: id, Tenant: tenant, KeyID: key,
		Route: "check", Result: "0", Class: string(class), Billed: class == billing.Billed,
		HTTPStatus: 200, UpstreamLatency: 1234 * time.Microsecond, IDMasked: "1101**********1234",
		Attempts: 1, UpstreamID: "up-" + id,
	}
}

// parityEntries cover two days, two tenants with two keys, and every
// class a report treats apart.
func parityEntries() []ledger.Entry {
	var es []ledger.Entry
	classes := []billing.Class{billing.Billed, billing.NotBilled, billing.Unknown, billing.CachedQuota, billing.Cached,
		billing.LocalReject, billing.UpstreamError, billing.QuotaExceeded, billing.Billed}
	for i := 0; i < 60; i++ {
		c := classes[i%len(classes)]
		e := entry(fmt.Sprintf("req-%03d", i), []string{"acme", "globex"}[i%2], []string{"k1", "k2", "k3"}[i%3], 1+i%2, c)
		if c == billing.UpstreamError {
			e.HTTPStatus, e.Result, e.Attempts = 502, "", 3
		}
		if c == billing.Unknown {
			e.Result, e.HTTPStatus = "", 0
		}
		es = append(es, e)
	}
	return es
}

// reports is everything a ledger answers about its entries.
type reports interface {
	BilledOn(ctx context.Context, day string) (ledger.Counts, error)
	Count(ctx context.Context, f ledger.Filter, billedOnly bool) (int64, error)
	Usage(ctx context.Context, f ledger.Filter) ([]ledger.UsageRow, error)
	Export(ctx context.Context, w io.Writer, f ledger.Filter) error
	Search(ctx context.Context, f ledger.Filter, m ledger.Match, limit int) ([]ledger.SearchRow, bool, error)
	Billing(ctx context.Context, from, to string) ([]ledger.DayRoute, error)
	Unresolved(ctx context.Context, from, to string) ([]ledger.Entry, error)
}

// answers runs every report with the same arguments on l.
func answers(t *testing.T, l reports) map[string]any {
	t.Helper()
	ctx := context.Background()
	out := map[string]any{}
	must := func(name string, v any, err error) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = v
	}
	filters := map[string]ledger.Filter{
		"all": {}, "acme": {Tenant: "acme"}, "day1": {From: "2026-12-01", To: "2026-12-01"},
		"globex-day2": {Tenant: "globex", From: "2026-12-02", To: "2026-12-02"}, "none": {Tenant: "nobody"},
	}
	for name, f := range filters {
		n, err := l.Count(ctx, f, false)
		must("count "+name, n, err)
		n, err = l.Count(ctx, f, true)
		must("billed "+name, n, err)
		u, err := l.Usage(ctx, f)
		must("usage "+name, u, err)
		var buf bytes.Buffer
		err = l.Export(ctx, &buf, f)
		must("export "+name, buf.String(), err)
		rows, more, err := l.Search(ctx, f, ledger.Match{}, 7)
		must("search "+name, fmt.Sprint(rows, more), err)
	}
	for name, m := range map[string]ledger.Match{
		"request": {RequestID: "req-005"}, "upstream": {UpstreamID: "up-req-010"}, "class": {Class: "unknown"},
	} {
		rows, more, err := l.Search(ctx, ledger.Filter{}, m, 100)
		must("match "+name, fmt.Sprint(rows, more), err)
	}
	for _, day := range []string{"2026-12-01", "2026-12-02", "2026-12-03"} {
		c, err := l.BilledOn(ctx, day)
		must("billed on "+day, c, err)
	}
	b, err := l.Billing(ctx, "2026-12-01", "2026-12-02")
	must("billing", b, err)
	u, err := l.Unresolved(ctx, "2026-12-01", "2026-12-02")
	must("unresolved", u, err)
	return out
}

// TestPostgresReportsMatchSQLite records the same entries into both
// ledgers, resolves the same unknowns, and compares every report.
func TestPostgresReportsMatchSQLite(t *testing.T) {
	conns := testkit.Conns(t, testkit.SharedStores(t, "", ""))
	dir := t.TempDir()
	pg, _ := openPG(t, conns, dir)
	defer pg.Close()
	lite := openSQLite(t, dir)

	for _, l := range []interface {
		Intend(ledger.Entry) error
		Record(ledger.Entry) error
		Flush() error
	}{lite, pg} {
		for i, e := range parityEntries() {
			if i%4 == 0 { // some went upstream: intent first
				if err := l.Intend(e); err != nil {
					t.Fatal(err)
				}
				e.Intended = true
			}
			if err := l.Record(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	unresolved, err := lite.Unresolved(ctx, "2026-12-01", "2026-12-02")
	if err != nil || len(unresolved) < 3 {
		t.Fatalf("unresolved %d, %v", len(unresolved), err)
	}
	var res []ledger.Entry
	for i, e := range unresolved[:3] {
		e.Class = []string{ledger.ClassResolvedBilled, ledger.ClassResolvedNotBilled, ledger.ClassResolvedBilled}[i]
		e.Time = e.Time.Add(time.Hour)
		res = append(res, e)
	}
	if err := lite.Resolve(ctx, res); err != nil {
		t.Fatal(err)
	}
	if err := pg.Resolve(ctx, res); err != nil {
		t.Fatal(err)
	}
	// A resolution recorded twice is kept once (PostgreSQL only; its
	// answers must not change).
	if err := pg.Resolve(ctx, res[:1]); err != nil {
		t.Fatal(err)
	}

	want, got := answers(t, lite), answers(t, pg)
	for name, w := range want {
		if !reflect.DeepEqual(w, got[name]) {
			t.Errorf("%s:\nsqlite   %v\npostgres %v", name, w, got[name])
		}
	}
	if n := want["count all"].(int64); n != 63 {
		t.Errorf("count all = %d, want 63", n)
	}
	if lines := bytes.Count([]byte(got["export all"].(string)), []byte("\n")); lines != 64 {
		t.Errorf("export all has %d lines, want a header and 63 entries", lines)
	}
}

// TestPostgresReplayIsIdempotent: a replica that dies with intents
// whose outcomes never came, and outcomes PostgreSQL never got, stores the
// outcomes and makes the intents unknown at its next start, each once,
// however often it restarts.
func TestPostgresReplayIsIdempotent(t *testing.T) {
	proxy := newProxy(t)
	conns := testkit.Conns(t, testkit.SharedStores(t, "", proxy.url()))
	dir := t.TempDir()
	ctx := context.Background()

	l, rec := openPG(t, conns, dir)
	if rec != (ledger.Recovery{}) {
		t.Fatalf("first start recovered %+v", rec)
	}
	// Stored before the crash.
	for i := 0; i < 10; i++ {
		e := entry(fmt.Sprintf("stored-%d", i), "acme", "k1", 1, billing.Billed)
		if err := l.Intend(e); err != nil {
			t.Fatal(err)
		}
		e.Intended = true
		if err := l.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	// Went upstream, no outcome: unknown after the restart.
	for i := 0; i < 4; i++ {
		if err := l.Intend(entry(fmt.Sprintf("lost-%d", i), "acme", "k2", 1, billing.Billed)); err != nil {
			t.Fatal(err)
		}
	}
	// Outcomes only the journal holds: PostgreSQL is unreachable.
	proxy.cut()
	for i := 0; i < 5; i++ {
		e := entry(fmt.Sprintf("journal-%d", i), "globex", "k1", 1, billing.NotBilled)
		if err := l.Intend(e); err != nil {
			t.Fatal(err)
		}
		e.Intended = true
		if err := l.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	l.Crash()
	proxy.restore()
	conns.PG.Reset() // the cut connections

	l, rec = openPG(t, conns, dir)
	if want := (ledger.Recovery{Outcomes: 5, Unknown: 4}); rec != want {
		t.Errorf("recovered %+v, want %+v", rec, want)
	}
	l.Crash() // again, before releasing anything
	l, rec = openPG(t, conns, dir)
	if rec != (ledger.Recovery{}) {
		t.Errorf("second replay recovered %+v, want nothing new", rec)
	}
	defer l.Close()

	for _, c := range []struct {
		class string
		want  int64
	}{{"billed", 10}, {"unknown", 4}, {"not_billed", 5}} {
		rows, _, err := l.Search(ctx, ledger.Filter{}, ledger.Match{Class: c.class}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(rows)) != c.want {
			t.Errorf("%s entries = %d, want %d", c.class, len(rows), c.want)
		}
	}
	assertExactlyOnce(t, conns, 19)
	counts, err := l.BilledOn(ctx, "2026-12-01")
	if err != nil {
		t.Fatal(err)
	}
	if want := (ledger.Counts{"acme": {"k1": 10, "k2": 4}}); !reflect.DeepEqual(counts, want) {
		t.Errorf("BilledOn = %v, want %v", counts, want)
	}
}

// assertExactlyOnce checks that the ledger holds n entries, no request id
// twice, and that usage_daily counts exactly them.
func assertExactlyOnce(t *testing.T, conns *stores.Conns, n int64) {
	t.Helper()
	var rows, ids, usage int64
	err := conns.PG.QueryRow(context.Background(), `SELECT COUNT(*), COUNT(DISTINCT request_id), (SELECT COALESCE(SUM(count), 0) FROM usage_daily) FROM ledger_entries`).Scan(&rows, &ids, &usage)
	if err != nil {
		t.Fatal(err)
	}
	if rows != n || ids != n || usage != n {
		t.Errorf("entries %d, distinct request ids %d, usage total %d; want %d each", rows, ids, usage, n)
	}
}

// TestPostgresOutage: while PostgreSQL is unreachable, requests are
// recorded without waiting for it, and once it is back every entry is
// stored exactly once.
func TestPostgresOutage(t *testing.T) {
	proxy := newProxy(t)
	conns := testkit.Conns(t, testkit.SharedStores(t, "", proxy.url()))
	l, _ := openPG(t, conns, t.TempDir())
	defer l.Close()
	ctx := context.Background()

	const workers, each = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	record := func(w, from, to int, pause time.Duration) {
		defer wg.Done()
		for i := from; i < to; i++ {
			e := entry(fmt.Sprintf("w%d-%03d", w, i), "acme", fmt.Sprintf("k%d", w), 1, billing.Billed)
			start := time.Now()
			if err := l.Intend(e); err != nil {
				errs <- err
				return
			}
			e.Intended = true
			if err := l.Record(e); err != nil {
				errs <- err
				return
			}
			if d := time.Since(start); d > time.Second {
				errs <- fmt.Errorf("Intend and Record took %v", d)
			}
			time.Sleep(pause)
		}
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go record(w, 0, each/2, 0)
	}
	wg.Wait()
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	proxy.cut()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go record(w, each/2, each, 40*time.Millisecond) // over 1 s of outage
	}
	wg.Wait()
	time.Sleep(time.Second) // the writer keeps failing and backing off
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := l.Err(); err != nil {
		t.Errorf("Err during the outage = %v, want nil (the spool takes entries)", err)
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	if err := l.Ping(pctx); err == nil {
		t.Error("Ping during the outage = nil, want PostgreSQL's failure")
	}
	cancel()
	if l.QueueLen() == 0 || l.JournalPending() == 0 {
		t.Errorf("queue %d, journal pending %d during the outage; want both held", l.QueueLen(), l.JournalPending())
	}
	proxy.restore() // the pool finds its cut connections broken by itself
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := l.Ping(ctx); err != nil {
		t.Errorf("Ping after recovery: %v", err)
	}
	assertExactlyOnce(t, conns, workers*each)
	if n, err := l.Count(ctx, ledger.Filter{}, true); err != nil || n != workers*each {
		t.Errorf("billed count = %d, %v; want %d", n, err, workers*each)
	}
}

// TestPostgresUnknownTakesLaterOutcome: an unknown entry is replaced by
// the real outcome of the same request, once; a real outcome is never
// replaced, and usage_daily follows.
func TestPostgresUnknownTakesLaterOutcome(t *testing.T) {
	conns := testkit.Conns(t, testkit.SharedStores(t, "", ""))
	l, _ := openPG(t, conns, t.TempDir())
	defer l.Close()
	ctx := context.Background()

	steps := []struct {
		name  string
		class billing.Class
		want  string // the stored class after the step
	}{
		{"unknown first", billing.Unknown, "unknown"},
		{"unknown again", billing.Unknown, "unknown"},
		{"real outcome", billing.NotBilled, "not_billed"},
		{"later outcome ignored", billing.Billed, "not_billed"},
		{"unknown never replaces", billing.Unknown, "not_billed"},
	}
	for _, s := range steps {
		if err := l.Record(entry("req-1", "acme", "k1", 1, s.class)); err != nil {
			t.Fatal(err)
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		rows, _, err := l.Search(ctx, ledger.Filter{}, ledger.Match{RequestID: "req-1"}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Class != s.want {
			t.Fatalf("%s: rows %+v, want one of class %s", s.name, rows, s.want)
		}
		usage, err := l.Usage(ctx, ledger.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if want := []ledger.UsageRow{{Day: "2026-12-01", Tenant: "acme", Class: s.want, Count: 1}}; !reflect.DeepEqual(usage, want) {
			t.Fatalf("%s: usage %+v, want %+v", s.name, usage, want)
		}
	}
	// Within one batch: the unknown and its outcome arrive together.
	for _, c := range []billing.Class{billing.Unknown, billing.Billed, billing.Unknown} {
		if err := l.Record(entry("req-2", "acme", "k1", 1, c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, err := l.Count(ctx, ledger.Filter{}, true); err != nil || n != 1 {
		t.Errorf("billed = %d, %v; want 1 (req-2)", n, err)
	}
	assertExactlyOnce(t, conns, 2)
}

// TestInsertPGTx: the entry commits or rolls back with the caller's
// transaction, and follows the request id rule.
func TestInsertPGTx(t *testing.T) {
	conns := testkit.Conns(t, testkit.SharedStores(t, "", ""))
	l, _ := openPG(t, conns, t.TempDir())
	defer l.Close()
	ctx := context.Background()

	e := entry("sess-1", "acme", "k1", 1, billing.Billed)
	tx, err := conns.PG.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.InsertPGTx(ctx, tx, e); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Count(ctx, ledger.Filter{}, false); n != 0 {
		t.Fatalf("rolled back entry stored: %d", n)
	}
	for i := 0; i < 2; i++ { // the second is the same request again
		err := pgx.BeginFunc(ctx, conns.PG, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT 1`); err != nil { // the caller's own state
				return err
			}
			return ledger.InsertPGTx(ctx, tx, e)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	counts, err := l.BilledOn(ctx, "2026-12-01")
	if err != nil {
		t.Fatal(err)
	}
	if want := (ledger.Counts{"acme": {"k1": 1}}); !reflect.DeepEqual(counts, want) {
		t.Errorf("BilledOn = %v, want %v", counts, want)
	}
	assertExactlyOnce(t, conns, 1)
}

// TestPostgresCloseWhileDown: a replica stopping while PostgreSQL is
// unreachable stops within its bound, keeps its journal, and the next
// start stores the billable entries the journal holds, once.
func TestPostgresCloseWhileDown(t *testing.T) {
	proxy := newProxy(t)
	conns := testkit.Conns(t, testkit.SharedStores(t, "", proxy.url()))
	dir := t.TempDir()
	defer func(d time.Duration) { ledger.PostgresCloseWait = d }(ledger.PostgresCloseWait)
	ledger.PostgresCloseWait = 300 * time.Millisecond

	l, _ := openPG(t, conns, dir)
	proxy.cut()
	for i := 0; i < 5; i++ {
		e := entry(fmt.Sprintf("req-%d", i), "acme", "k1", 1, billing.Billed)
		if err := l.Intend(e); err != nil {
			t.Fatal(err)
		}
		e.Intended = true
		if err := l.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := l.Close(); err == nil {
		t.Error("Close with PostgreSQL down = nil, want the entries it could not store")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	// Still down: the start fails within its bound.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if _, _, err := ledger.OpenPostgres(ctx, conns, pgConfig(dir), quiet); err == nil {
		t.Error("OpenPostgres with PostgreSQL down = nil error")
	}
	cancel()
	proxy.restore()
	conns.PG.Reset()
	l, rec := openPG(t, conns, dir)
	defer l.Close()
	if want := (ledger.Recovery{Outcomes: 5}); rec != want {
		t.Errorf("recovered %+v, want %+v", rec, want)
	}
	assertExactlyOnce(t, conns, 5)
}

// TestPostgresText: bytes PostgreSQL's text refuses (invalid UTF-8, NUL)
// from the upstream do not block the ledger; they are stored replaced.
func TestPostgresText(t *testing.T) {
	conns := testkit.Conns(t, testkit.SharedStores(t, "", ""))
	l, _ := openPG(t, conns, t.TempDir())
	defer l.Close()
	e := entry("req-1", "acme", "k1", 1, billing.Billed)
	e.UpstreamID, e.Result = "up\x00id", "bad\xff"
	if err := l.Record(e); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, _, err := l.Search(context.Background(), ledger.Filter{}, ledger.Match{RequestID: "req-1"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].UpstreamID != "up\uFFFDid" || rows[0].Result != "bad\uFFFD" {
		t.Errorf("rows %+v", rows)
	}
}

// TestPostgresTwoReplicas: replicas opening one schema at once migrate
// it once, and their batches, which share usage_daily rows, commit side by
// side without deadlocks; the reports count the whole fleet.
func TestPostgresTwoReplicas(t *testing.T) {
	cfg := testkit.SharedStores(t, "", "")
	a, b := testkit.Conns(t, cfg), testkit.Conns(t, cfg)
	var (
		ls [2]*ledger.Postgres
		wg sync.WaitGroup
	)
	for i, c := range []*stores.Conns{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, _, err := ledger.OpenPostgres(context.Background(), c, pgConfig(t.TempDir()), quiet)
			if err != nil {
				t.Error(err)
				return
			}
			ls[i] = l
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	const each = 400
	for r, l := range ls {
		defer l.Close()
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					c := []billing.Class{billing.Billed, billing.NotBilled, billing.CachedQuota}[i%3]
					e := entry(fmt.Sprintf("r%d-w%d-%d", r, w, i), []string{"acme", "globex"}[i%2], []string{"k1", "k2"}[(i/2)%2], 1, c)
					if err := l.Record(e); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, l := range ls {
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	assertExactlyOnce(t, a, 2*3*each)
	counts, err := ls[0].BilledOn(context.Background(), "2026-12-01")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, keys := range counts {
		for _, n := range keys {
			total += n
		}
	}
	var want int64
	for i := 0; i < each; i++ {
		if i%3 != 1 { // not not_billed
			want += 2 * 3
		}
	}
	if total != want {
		t.Errorf("BilledOn total %d, want %d (billed and cached_quota)", total, want)
	}
}

// proxy is a TCP proxy to the machine's PostgreSQL that a test can cut
// (every connection dropped, new ones refused) and restore.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func newProxy(t *testing.T) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: testkit.HostPort(testkit.PostgresURL), conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

// url is the machine's PostgreSQL URL through the proxy.
func (p *proxy) url() string {
	u := testkit.PostgresURL
	hp := testkit.HostPort(u)
	i := bytes.Index([]byte(u), []byte(hp))
	return u[:i] + p.ln.Addr().String() + u[i+len(hp):]
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *proxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close(); c.Close() }()
	io.Copy(c, up)
	c.Close()
	up.Close()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/idgate/idgate/internal/testkit"
)

func TestSumCallsLeavesOutTheProbesOwnCommands(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_evalsha:calls=1200,usec=9000,usec_per_call=7.50,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_info:calls=7,usec=300,usec_per_call=42.86,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_ping:calls=3,usec=1,usec_per_call=0.33,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|setinfo:calls=4,usec=4,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_set:calls=96,usec=100,usec_per_call=1.04,rejected_calls=0,failed_calls=0\r\n"
	if got, want := sumCalls(info), int64(1200+4+96); got != want {
		t.Fatalf("sumCalls = %d, want %d", got, want)
	}
	if got := infoInt("# Stats\r\ntotal_commands_processed:99\r\ntotal_writes_processed:42\r\n", "total_writes_processed"); got != 42 {
		t.Errorf("infoInt = %d, want 42", got)
	}
	if got := sumCalls(""); got != 0 {
		t.Fatalf("sumCalls of nothing = %d", got)
	}
}

func TestStoreUseNetOfIdle(t *testing.T) {
	run := storeUse{dur: 4 * time.Second, redisCPU: 2 * time.Second, pgCPU: 100 * time.Millisecond, redisCalls: 40000, redisWrites: 20000}
	idle := storeUse{dur: time.Second, redisCPU: 10 * time.Millisecond, pgCPU: 50 * time.Millisecond, redisCalls: 100, redisWrites: 10}
	got := run.net(idle)
	if got.redisCPU != 2*time.Second-40*time.Millisecond || got.redisCalls != 40000-400 || got.redisWrites != 20000-40 {
		t.Errorf("net = %+v: idle rate not scaled to the run's length", got)
	}
	if got.pgCPU != 0 {
		t.Errorf("pg CPU %v: want clamped at zero when the idle rate exceeds the run's", got.pgCPU)
	}
	if n := run.net(storeUse{}); !reflect.DeepEqual(n, run) {
		t.Errorf("no idle sample changed the figures: %+v", n)
	}
}

func TestBackendPortFromTitle(t *testing.T) {
	for _, tc := range []struct {
		title string
		port  int
		ok    bool
	}{
		{"postgres: 15/main: postgres test 127.0.0.1(54321) idle", 54321, true},
		{"postgres: 15/main: postgres test 127.0.0.1(40112) INSERT waiting", 40112, true},
		{"postgres: 15/main: postgres test 127.0.0.1(40113) idle in transaction (aborted)", 40113, true},
		{"postgres: 15/main: postgres test [local] idle", 0, false},
		{"postgres: 15/main: walwriter   ", 0, false},
		{"postgres: 15/main: checkpointer", 0, false},
		{"/usr/lib/postgresql/15/bin/postgres\x00-D\x00/var/lib/postgresql/15/main", 0, false},
	} {
		port, ok := titlePort(tc.title)
		if port != tc.port || ok != tc.ok {
			t.Errorf("titlePort(%q) = %d, %v; want %d, %v", tc.title, port, ok, tc.port, tc.ok)
		}
	}
	if _, ok := backendPort(os.Getpid()); ok {
		t.Errorf("the test binary's command line read as a backend's title")
	}
}

// The gateways' PostgreSQL backends are found through the gateways' own
// local ports.
func TestLocalPortsListsOwnSockets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ports := localPorts(os.Getpid())
	for _, a := range []net.Addr{ln.Addr(), c.LocalAddr()} {
		if p := a.(*net.TCPAddr).Port; !ports[p] {
			t.Errorf("port %d of this process not found in %v", p, ports)
		}
	}
}

// A shared target's space is removed after the run: its keys (hash-tagged
// or not) and its schema, nobody else's.
func TestSharedSpaceDropRemovesOnlyItsOwn(t *testing.T) {
	ctx := context.Background()
	opt, err := redis.ParseURL(testkit.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	testkit.Need(t, rdb.Ping(ctx).Err() == nil, "Redis is not reachable at "+testkit.RedisURL)
	conn, err := pgx.Connect(ctx, testkit.PostgresURL)
	testkit.Need(t, err == nil, "PostgreSQL is not reachable")
	defer conn.Close(ctx)

	space, err := newSharedSpace()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newSharedSpace()
	mine := []string{space.prefix + ":{t:demo}:rl:k", "{" + space.prefix + ":t:demo}:used"}
	theirs := other.prefix + ":{t:demo}:rl:k"
	for _, k := range append(mine, theirs) {
		if err := rdb.Set(ctx, k, 1, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	defer rdb.Del(ctx, theirs)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+space.schema+"; CREATE TABLE "+space.schema+".t (x int)"); err != nil {
		t.Fatal(err)
	}
	if err := space.drop(ctx, rdb, testkit.PostgresURL); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, mine...).Val(); n != 0 {
		t.Errorf("%d of the space's keys left", n)
	}
	if rdb.Exists(ctx, theirs).Val() != 1 {
		t.Errorf("another space's key was deleted")
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", space.schema).Scan(&n); err != nil || n != 0 {
		t.Errorf("schema %s still there (%d, %v)", space.schema, n, err)
	}
}

// A round trip is one reply written, however many commands a script runs
// inside it; commandstats counts those too. Checked on a Redis of the
// test's own, which nothing else uses.
func TestRoundTripsAgainstCommands(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		testkit.Need(t, false, "redis-server is not installed")
	}
	ln := &launcher{dir: t.TempDir()}
	defer ln.stop()
	url, pid, err := ln.privateRedis()
	if err != nil {
		t.Fatal(err)
	}
	opt, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	p := &storeProbe{rdb: rdb, redisPID: pid}
	ctx := context.Background()
	before := p.sample(ctx)
	const scripts = 50
	for i := range scripts {
		if err := rdb.Eval(ctx, "redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCR', KEYS[2]); return redis.call('GET', KEYS[1])", []string{"a", "b"}, i).Err(); err != nil {
			t.Fatal(err)
		}
	}
	u := p.sample(ctx).since(before)
	if u.redisWrites != scripts {
		t.Errorf("round trips %d, want %d", u.redisWrites, scripts)
	}
	if want := int64(scripts * 4); u.redisCalls != want || u.byCommand["eval"] != scripts || u.byCommand["set"] != scripts {
		t.Errorf("commands %d (%v), want %d: EVAL and the three inside it", u.redisCalls, u.byCommand, want)
	}
}

func TestClusterFlags(t *testing.T) {
	t.Setenv("IDGATE_GW_REDIS_URL", "redis://elsewhere:6379/1")
	t.Setenv("IDGATE_GW_POSTGRES_URL", "")
	o, err := parseRunFlags([]string{"-cluster"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.cluster || o.redisURL != "redis://elsewhere:6379/1" || o.pgURL != "postgres://postgres@127.0.0.1:5432/test?sslmode=disable" {
		t.Errorf("-cluster: redis %q, postgres %q: want the env's Redis and the local PostgreSQL", o.redisURL, o.pgURL)
	}
	if _, err := parseRunFlags([]string{"-cluster", "-base", t.TempDir()}); err == nil {
		t.Error("-cluster with -base accepted")
	}
}

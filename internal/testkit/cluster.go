package testkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idgate/idgate/gateway/stores"
)

// SharedEnv is the gateway's environment for a shared-mode stores section
// (what SharedStores returns): mode, both URLs, the key prefix, the schema
// and the fleet's size.
func SharedEnv(c stores.Config, replicas int) []string {
	return []string{
		"IDGATE_GW_STORES_MODE=shared",
		"IDGATE_GW_REDIS_URL=" + c.Redis.URL.Reveal(),
		"IDGATE_GW_POSTGRES_URL=" + c.Postgres.URL.Reveal(),
		"IDGATE_GW_STORES_REDIS_PREFIX=" + c.Redis.Prefix,
		"IDGATE_GW_STORES_POSTGRES_SCHEMA=" + c.Postgres.Schema,
		"IDGATE_GW_STORES_REPLICAS=" + strconv.Itoa(replicas),
	}
}

// Cluster is a fleet of gateway replicas on the same shared stores, each
// with its own store path (its local journal, the ledger's spool).
type Cluster struct {
	Replicas []*Gateway
	// Stores is the section every replica runs on.
	Stores stores.Config
	// StorePaths are the replicas' store paths, by index.
	StorePaths []string
}

// ClusterOptions says how to start a fleet.
type ClusterOptions struct {
	Replicas int
	// Bin is the gateway binary ("": Build's, with -race under go test
	// -race).
	Bin string
	// Args are added to every replica's command line ("-config", path).
	Args []string
	// Stores is the shared stores section (SharedStores).
	Stores stores.Config
	// Env is added to every replica's environment after the stores'.
	Env []string
}

// StartCluster starts o.Replicas gateways on o.Stores, one after the
// other, each healthy before the next starts; they stop when the test
// ends.
func StartCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	if o.Replicas < 1 {
		t.Fatal("testkit: a cluster needs at least one replica")
	}
	bin := o.Bin
	if bin == "" {
		bin = Build(t, "./gateway/cmd/gateway")
	}
	c := &Cluster{Stores: o.Stores}
	base := append(SharedEnv(o.Stores, o.Replicas), o.Env...)
	for i := range o.Replicas {
		dir := filepath.Join(t.TempDir(), "replica-"+strconv.Itoa(i))
		path := filepath.Join(dir, "ledger.db")
		env := append(append([]string(nil), base...), "IDGATE_GW_STORE_PATH="+path)
		c.Replicas = append(c.Replicas, StartGatewayBinary(t, bin, o.Args, env...))
		c.StorePaths = append(c.StorePaths, path)
	}
	return c
}

// URL is the client URL of replica i modulo the fleet's size, for
// round-robin clients.
func (c *Cluster) URL(i int) string { return c.Replicas[i%len(c.Replicas)].URL }

// RedisServer is a private redis-server of one test, on a loopback port of
// its own, without persistence (--save "" --appendonly no): Kill and
// Restart bring it back EMPTY on the same port, as a Redis that lost its
// memory.
type RedisServer struct {
	Addr string // host:port
	URL  string // redis://host:port/0
	bin  string
	dir  string
	proc *Proc
}

// StartRedisServer runs redis-server on a free loopback port in a
// temporary directory; it stops when the test ends. A missing
// redis-server fails the test under CI=true and skips it elsewhere.
func StartRedisServer(t testing.TB) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	Need(t, err == nil, "redis-server is not installed (apt-get install redis-server)")
	r := &RedisServer{bin: bin, dir: t.TempDir()}
	for attempt := 1; ; attempt++ {
		r.Addr = FreeAddr(t)
		r.URL = "redis://" + r.Addr + "/0"
		err := r.start(t)
		if err == nil {
			return r
		}
		if attempt == 5 || !strings.Contains(r.proc.Output(), "Address already in use") {
			t.Fatalf("testkit: %v", err)
		}
	}
}

func (r *RedisServer) start(t testing.TB) error {
	t.Helper()
	_, port, _ := strings.Cut(r.Addr, ":")
	cmd := exec.Command(r.bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning")
	cmd.Env = os.Environ()
	p := &Proc{Cmd: cmd, out: &SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	r.proc = p
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop(5 * time.Second)
		if t.Failed() {
			t.Logf("output of redis-server %s:\n%s", r.Addr, p.Output())
		}
	})
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("redis-server on %s exited: %v\n%s", r.Addr, p.err, p.Output())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s not answering: %v\n%s", r.Addr, err, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the server with SIGKILL and waits until it is gone: its
// memory (every key) is lost.
func (r *RedisServer) Kill(t testing.TB) {
	t.Helper()
	if err := r.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("testkit: kill redis-server: %v", err)
	}
	select {
	case <-r.proc.Exited():
	case <-time.After(10 * time.Second):
		t.Fatalf("testkit: redis-server %s still running after SIGKILL", r.Addr)
	}
}

// Restart starts the server again, empty, on the same port (after Kill).
func (r *RedisServer) Restart(t testing.TB) {
	t.Helper()
	if err := r.start(t); err != nil {
		t.Fatalf("testkit: %v", err)
	}
}

// DBSize is the number of keys the server holds.
func (r *RedisServer) DBSize(t testing.TB) int64 {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := rdb.DBSize(ctx).Result()
	if err != nil {
		t.Fatalf("testkit: redis-server %s: dbsize: %v", r.Addr, err)
	}
	return n
}

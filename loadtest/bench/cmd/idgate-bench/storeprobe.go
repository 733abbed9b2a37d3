package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// storeProbe measures what the shared stores spend on a target's
// requests: the CPU of redis-server, the CPU of the PostgreSQL processes
// that serve the target's gateways (their backends, found by the
// gateways' own socket ports, and the server's background processes:
// WAL writer, checkpointer, ...), the round trips Redis served (INFO
// stats' total_writes_processed: one reply write per request a client
// sends, a pipeline's replies in one) and the commands it executed (INFO
// commandstats, which also counts every redis.call inside a script; info
// and ping left out).
//
// Redis and PostgreSQL are the machine's, which other programs may use at
// the same time: redis-server's CPU and commandstats are the whole
// server's. background samples them with the target idle just before its
// run; the run's figures are net of that rate.
type storeProbe struct {
	rdb *redis.Client
	// redisPID is the Redis the gateways use when the harness started it;
	// 0: every process named redis-server.
	redisPID int
	// gateways whose PostgreSQL connections count.
	gateways []*proc
}

// storeSample is the stores' counters at one instant.
type storeSample struct {
	at          time.Time
	redisCPU    time.Duration
	pgCPU       map[int]time.Duration // by pid: backends come and go
	redisCalls  int64
	redisWrites int64
	byCommand   map[string]int64
	redisFailed error
}

// storeUse is what the stores spent between two samples.
type storeUse struct {
	dur             time.Duration
	redisCPU, pgCPU time.Duration
	redisCalls      int64
	redisWrites     int64 // round trips
	// byCommand is commandstats' calls by command over the run (not net
	// of the idle rate).
	byCommand         map[string]int64
	redisUnmeasurable bool // INFO failed at either end
}

func (p *storeProbe) sample(ctx context.Context) storeSample {
	s := storeSample{at: time.Now(), pgCPU: map[int]time.Duration{}}
	redisPIDs := []int{p.redisPID}
	if p.redisPID == 0 {
		redisPIDs = pidsNamed("redis-server")
	}
	for _, pid := range redisPIDs {
		s.redisCPU += pidCPU(pid)
	}
	ports := map[int]bool{}
	for _, g := range p.gateways {
		for _, pid := range family(g.cmd.Process.Pid) {
			for port := range localPorts(pid) {
				ports[port] = true
			}
		}
	}
	for _, pid := range pidsNamed("postgres") {
		if port, ok := backendPort(pid); ok && !ports[port] {
			continue // a backend serving another client
		}
		s.pgCPU[pid] = pidCPU(pid)
	}
	s.redisCalls, s.redisWrites, s.byCommand, s.redisFailed = redisCounters(ctx, p.rdb)
	return s
}

// since is what the stores spent from a to b. A PostgreSQL process that
// started in between counts from zero; one that ended is lost.
func (b storeSample) since(a storeSample) storeUse {
	u := storeUse{dur: b.at.Sub(a.at), redisCPU: b.redisCPU - a.redisCPU, redisCalls: b.redisCalls - a.redisCalls,
		// Less the reply to the INFO that took sample a.
		redisWrites: max(b.redisWrites-a.redisWrites-1, 0), byCommand: map[string]int64{}}
	for c, n := range b.byCommand {
		if d := n - a.byCommand[c]; d > 0 {
			u.byCommand[c] = d
		}
	}
	u.redisUnmeasurable = a.redisFailed != nil || b.redisFailed != nil
	for pid, c := range b.pgCPU {
		u.pgCPU += c - a.pgCPU[pid]
	}
	return u
}

// net is u less what bg (an idle sample) spent in the same time, clamped
// at zero.
func (u storeUse) net(bg storeUse) storeUse {
	if bg.dur <= 0 {
		return u
	}
	scale := float64(u.dur) / float64(bg.dur)
	sub := func(x, y time.Duration) time.Duration { return max(x-time.Duration(float64(y)*scale), 0) }
	u.redisCPU, u.pgCPU = sub(u.redisCPU, bg.redisCPU), sub(u.pgCPU, bg.pgCPU)
	u.redisCalls = max(u.redisCalls-int64(float64(bg.redisCalls)*scale), 0)
	u.redisWrites = max(u.redisWrites-int64(float64(bg.redisWrites)*scale), 0)
	u.redisUnmeasurable = u.redisUnmeasurable || bg.redisUnmeasurable
	return u
}

// redisCounters reads, in one INFO, the commands executed (commandstats'
// calls summed, info and ping left out, and by command) and the reply
// writes (total_writes_processed).
func redisCounters(ctx context.Context, rdb *redis.Client) (calls, writes int64, byCommand map[string]int64, err error) {
	info, err := rdb.Info(ctx, "stats", "commandstats").Result()
	if err != nil {
		return 0, 0, nil, fmt.Errorf("bench: redis: info: %w", err)
	}
	byCommand = commandCalls(info)
	for _, n := range byCommand {
		calls += n
	}
	return calls, infoInt(info, "total_writes_processed"), byCommand, nil
}

// sumCalls is the sum of commandCalls.
func sumCalls(info string) int64 {
	var total int64
	for _, n := range commandCalls(info) {
		total += n
	}
	return total
}

// commandCalls parses commandstats lines, cmdstat_<name>:calls=N,usec=...,
// leaving out info and ping (the probe's own).
func commandCalls(info string) map[string]int64 {
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, rest, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		name = strings.TrimPrefix(name, "cmdstat_")
		switch name {
		case "info", "ping":
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				out[name] += n
			}
		}
	}
	return out
}

// infoInt is the integer field name of an INFO answer (0 when absent).
func infoInt(info, name string) int64 {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), name+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// pidsNamed lists the processes whose command name (/proc/<pid>/comm) is
// name.
func pidsNamed(name string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm")); err == nil && strings.TrimSpace(string(b)) == name {
			out = append(out, pid)
		}
	}
	return out
}

// pidCPU is one process's user+system time.
func pidCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// backendPort is the client port of a PostgreSQL backend, from the title
// it sets itself ("postgres: 15/main: user db 127.0.0.1(54321) idle");
// ok is false for the server's own processes, which have none.
func backendPort(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0, false
	}
	return titlePort(string(b))
}

// titlePort is the client port in a backend's title: the first
// "(digits)", the host's; a state such as "idle in transaction (aborted)"
// follows it.
func titlePort(title string) (int, bool) {
	if !strings.HasPrefix(title, "postgres:") {
		return 0, false // the postmaster: its command line as started
	}
	m := clientPort.FindStringSubmatch(title)
	if m == nil {
		return 0, false // a background process, or a Unix-socket client
	}
	port, err := strconv.Atoi(m[1])
	return port, err == nil
}

var clientPort = regexp.MustCompile(`\((\d{1,5})\)`)

// localPorts are the local TCP ports of pid's sockets: its open socket
// inodes looked up in the kernel's TCP tables.
func localPorts(pid int) map[int]bool {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	ports := map[int]bool{}
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil {
				ports[int(p)] = true
			}
		}
	}
	return ports
}

// sharedSpace is one target's own part of the stores: a Redis key prefix
// and a PostgreSQL schema nobody else uses, removed after the run.
type sharedSpace struct {
	prefix, schema string
	// privateRedis: the Redis goes away with the run, its keys with it.
	privateRedis bool
}

func newSharedSpace() (sharedSpace, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return sharedSpace{}, err
	}
	id := hex.EncodeToString(b)
	return sharedSpace{prefix: "idgatebench" + id, schema: "idgate_bench_" + id}, nil
}

// drop deletes the prefix's keys (SCAN and UNLINK, never a flush: the
// Redis is shared) and the schema.
func (s sharedSpace) drop(ctx context.Context, rdb *redis.Client, pgURL string) error {
	var errs []string
	var batch []string
	flush := func() {
		if len(batch) > 0 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				errs = append(errs, "redis: unlink: "+err.Error())
			}
			batch = batch[:0]
		}
	}
	if !s.privateRedis {
		// The prefix starts every key, possibly inside a hash tag
		// ("{prefix"): it is random, so any key holding it is this space's.
		iter := rdb.Scan(ctx, 0, "*"+s.prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 1000 {
				flush()
			}
		}
		flush()
		if err := iter.Err(); err != nil {
			errs = append(errs, "redis: scan: "+err.Error())
		}
	}
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		errs = append(errs, "postgres: connect failed") // the URL may hold a password: never quoted
	} else {
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{s.schema}.Sanitize()+" CASCADE"); err != nil {
			errs = append(errs, "postgres: drop schema: "+err.Error())
		}
		conn.Close(ctx)
	}
	if len(errs) > 0 {
		return fmt.Errorf("bench: removing prefix %s and schema %s: %s", s.prefix, s.schema, strings.Join(errs, "; "))
	}
	return nil
}

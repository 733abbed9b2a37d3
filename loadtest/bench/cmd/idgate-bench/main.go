// Command idgate-bench measures, in one run on one machine, the servers a
// user compares: a bare fasthttp handler (the server ceiling), the
// simulator, a bare fasthttp reverse proxy (the proxy ceiling), the gateway
// and, where installed, nginx; optionally also the gateway of an earlier
// git revision, to show a change costs no throughput or CPU. Every server
// runs in its own process; the load generator is this process.
//
//	idgate-bench run -duration 10s -conns 64
//	idgate-bench build-base -rev main -o bin/base   (make bench BASE=main)
//	idgate-bench run -bin bin -base bin/base
//	idgate-bench bare-handler -listen 127.0.0.1:9101
//	idgate-bench bare-proxy -listen 127.0.0.1:9102 -upstream 127.0.0.1:8081
//	idgate-bench pgo -o gateway/cmd/gateway/default.pgo   (make pgo)
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/loadtest/bench/load"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: idgate-bench run|build-base|load|pgo|bare-handler|bare-proxy [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "bare-handler":
		err = bareHandler(os.Args[2:])
	case "bare-proxy":
		err = bareProxy(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	case "build-base":
		err = buildBase(os.Args[2:])
	case "load":
		err = loadOnly(os.Args[2:])
	case "pgo":
		err = pgo(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the flag set printed its usage
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "idgate-bench:", err)
		os.Exit(1)
	}
}

// loadOnly drives one running server, for profiling it by hand.
func loadOnly(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "host:port")
	token := fs.String("token", "demo-key", "bearer token")
	conns := fs.Int("conns", 64, "connections")
	dur := fs.Duration("duration", 10*time.Second, "duration")
	rate := fs.Int("rate", 0, "fixed arrival rate (0: saturate)")
	_ = fs.Parse(args)
	t := load.Target{Addr: *addr, Path: contracts.CheckPath, Token: *token, Bodies: load.Bodies(20000, 1)}
	if *rate > 0 {
		r, err := load.FixedRate(t, *rate, *dur)
		if err != nil {
			return err
		}
		fmt.Printf("%d req at %d/s: p50 %v p90 %v p99 %v p99.9 %v errors %d non-200 %d\n", r.Requests, *rate,
			r.Percentile(50), r.Percentile(90), r.Percentile(99), r.Percentile(99.9), r.Errors, r.Non200)
		return nil
	}
	r := load.Saturate(t, *conns, *dur)
	fmt.Printf("%.0f req/s errors %d non-200 %d\n", r.RPS(), r.Errors, r.Non200)
	return nil
}

// bareHandler answers every request with the simulator's happy-path JSON,
// doing nothing else: what one fasthttp server can do on this machine.
func bareHandler(args []string) error {
	fs := flag.NewFlagSet("bare-handler", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:9101", "listen address")
	_ = fs.Parse(args)
	body := contracts.AppendResponse(nil, contracts.CheckResponse{Result: contracts.ResultConsistent, Description: contracts.Results[0].Description})
	return fasthttp.ListenAndServe(*listen, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	})
}

// bareProxy serves load.BareProxy: the proxy ceiling.
func bareProxy(args []string) error {
	fs := flag.NewFlagSet("bare-proxy", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:9102", "listen address")
	upstream := fs.String("upstream", "127.0.0.1:8081", "upstream host:port")
	_ = fs.Parse(args)
	return fasthttp.ListenAndServe(*listen, load.BareProxy(*upstream))
}

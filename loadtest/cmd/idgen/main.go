// Command idgen writes load-test data as JSON: valid identities from the
// project's own GB 11643 generator, and the magic identities that force
// each simulator outcome. k6 scripts load it with open() into a SharedArray.
//
//	go run ./loadtest/cmd/idgen -n 20000 -seed 1 > loadtest/results/data.json
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/idgate/idgate/loadtest/bench/load"
)

func main() {
	n := flag.Int("n", 20000, "valid identities to generate")
	seed := flag.Uint64("seed", 1, "generator seed (same seed, same data)")
	flag.Parse()
	w := bufio.NewWriter(os.Stdout)
	err := load.WriteData(w, *n, *seed)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "idgen:", err)
		os.Exit(1)
	}
}

package main

import (
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPairedRatio(t *testing.T) {
	rps := func(vs ...float64) []measure {
		ms := make([]measure, len(vs))
		for i, v := range vs {
			ms[i].rps = v
		}
		return ms
	}
	for _, tc := range []struct {
		name    string
		a, b    []measure
		want    float64
		wantPer []float64
	}{
		{name: "no rounds", a: nil, b: nil, want: 0},
		{name: "reference missing", a: rps(80), b: nil, want: 0},
		{name: "one round", a: rps(80), b: rps(100), want: 0.8, wantPer: []float64{0.8}},
		// Pairing by round: the fast round of both and the slow round of
		// both give 0.8 each, where the medians taken apart (80 over 50 or
		// 40 over 100) would not.
		{name: "pairs share a round's drift", a: rps(80, 40), b: rps(100, 50), want: 0.8, wantPer: []float64{0.8, 0.8}},
		{name: "odd count takes the middle", a: rps(90, 70, 10), b: rps(100, 100, 100), want: 0.7, wantPer: []float64{0.9, 0.7, 0.1}},
		{name: "even count takes the midpoint", a: rps(90, 70), b: rps(100, 100), want: 0.8, wantPer: []float64{0.9, 0.7}},
		{name: "a zero reference round is skipped", a: rps(80, 50), b: rps(100, 0), want: 0.8, wantPer: []float64{0.8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, per := pairedRatio(tc.a, tc.b)
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("ratio %v, want %v", got, tc.want)
			}
			if !slices.EqualFunc(per, tc.wantPer, func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }) {
				t.Errorf("per round %v, want %v", per, tc.wantPer)
			}
		})
	}
}

// nginx serves from worker processes: a target's CPU and memory must count
// its children, or nginx would look idle.
func TestFamilyListsChildren(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & sleep 30 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so the children can be killed with it
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	comm := func(pid int) string {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		return strings.TrimSpace(string(b))
	}
	// The shell forks its children just after it starts, and each is
	// still "sh" until it execs sleep.
	settled := func(f []int) bool {
		return len(f) == 3 && comm(f[1]) == "sleep" && comm(f[2]) == "sleep"
	}
	var got []int
	for range 200 {
		if got = family(cmd.Process.Pid); settled(got) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !settled(got) || got[0] != cmd.Process.Pid {
		t.Fatalf("family of the shell = %v, want it and its two sleep children", got)
	}
	if f := family(1 << 30); len(f) != 1 {
		t.Errorf("family of a missing pid = %v, want just it", f)
	}
}

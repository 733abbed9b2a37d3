package main

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// allowed reads a process's CPU list as the kernel reports it.
func allowed(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("no Cpus_allowed_list")
	return ""
}

// isolate splits the CPUs between the proxy and everything else, and
// restore hands them all back.
func TestIsolateSplitsCPUsAndRestores(t *testing.T) {
	n := runtime.NumCPU()
	if n < 2 {
		t.Skip("isolation needs at least 2 CPUs")
	}
	front := exec.Command("sleep", "30")
	back := exec.Command("sleep", "30")
	for _, c := range []*exec.Cmd{front, back} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	all := allowed(t, os.Getpid())
	restore, err := isolate(&proc{name: "front", cmd: front}, []*proc{{name: "back", cmd: back}})
	if err != nil {
		t.Fatal(err)
	}
	lower, upper := cpuList(0, n/2-1), cpuList(n/2, n-1)
	got := map[string]string{"front": allowed(t, front.Process.Pid), "back": allowed(t, back.Process.Pid), "self": allowed(t, os.Getpid())}
	restore()
	want := map[string]string{"front": upper, "back": lower, "self": lower}
	for who, w := range want {
		if got[who] != w {
			t.Errorf("%s pinned to %s, want %s", who, got[who], w)
		}
	}
	for who, pid := range map[string]int{"front": front.Process.Pid, "back": back.Process.Pid, "self": os.Getpid()} {
		if a := allowed(t, pid); a != all {
			t.Errorf("%s after restore: %s, want %s", who, a, all)
		}
	}
}

func cpuList(from, to int) string {
	if from == to {
		return strconv.Itoa(from)
	}
	return strconv.Itoa(from) + "-" + strconv.Itoa(to)
}

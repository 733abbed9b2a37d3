package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// isolate pins front (the proxy under test) to the upper half of the CPUs
// and the backends and this process to the lower half. Every thread of a
// process is pinned; threads started later inherit their creator's mask.
// The Go runtime of each process sees its new CPU count within a second
// and sizes GOMAXPROCS to it. restore gives every thread all CPUs back.
func isolate(front *proc, backends []*proc) (restore func(), err error) {
	n := runtime.NumCPU()
	var lower, upper, all unix.CPUSet
	for c := 0; c < n; c++ {
		all.Set(c)
		if c < n/2 {
			lower.Set(c)
		} else {
			upper.Set(c)
		}
	}
	pids := []int{os.Getpid()}
	for _, b := range backends {
		pids = append(pids, b.cmd.Process.Pid)
	}
	everyone := append([]int{front.cmd.Process.Pid}, pids...)
	restore = func() {
		for _, pid := range everyone {
			if err := pin(pid, &all); err != nil {
				// The run goes on; later figures would be skewed, so say so.
				fmt.Fprintln(os.Stderr, "idgate-bench: restoring CPUs:", err)
			}
		}
	}
	if err := pin(front.cmd.Process.Pid, &upper); err != nil {
		restore()
		return nil, err
	}
	for _, pid := range pids {
		if err := pin(pid, &lower); err != nil {
			restore()
			return nil, err
		}
	}
	return restore, nil
}

// pin sets the CPU mask of every thread of pid.
func pin(pid int, set *unix.CPUSet) error {
	tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return fmt.Errorf("bench: threads of %d: %w", pid, err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH { // ESRCH: the thread exited
			return fmt.Errorf("bench: pin thread %d of %d: %w", tid, pid, err)
		}
	}
	return nil
}

package main

import (
	"testing"

	"github.com/kiln-llm/kiln/native"
	"golang.org/x/sys/unix"
)

// TestOnPoolRunsOnThePool checks that onPool's function sees the replica's
// pool (its size, not the process-wide pool's) and that the pin binding
// puts on its thread does not leak to the caller's.
func TestOnPoolRunsOnThePool(t *testing.T) {
	if err := native.Init(1); err != nil {
		t.Skipf("kernel library: %v", err)
	}
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		t.Skip(err)
	}
	cpus, err := allowedCPUs()
	if err != nil || len(cpus) == 0 {
		t.Skipf("allowed CPUs: %v", err)
	}
	p, err := native.NewPool(3, cpus[:1])
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 3 {
		threads, err := onPool(p, func() (int, error) { return native.Threads(), nil })
		if err != nil || threads != 3 {
			t.Fatalf("inside onPool the kernels see %d threads (%v), want the pool's 3", threads, err)
		}
		if native.Threads() != 1 {
			t.Fatalf("outside onPool the kernels see %d threads, want the global pool's 1", native.Threads())
		}
	}
	var after unix.CPUSet
	if err := unix.SchedGetaffinity(0, &after); err != nil || after != before {
		t.Fatalf("the caller's CPU set changed: %v -> %v (%v)", before, after, err)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/kiln-llm/kiln/configs"

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

// TestServeEmbeddingsOnReplicaPools serves -dp 2 -t 1 (embeddings take
// turns over the replicas, each on its own kernel pool) and -dp 1: every
// answer is the same vector, bit for bit.
func TestServeEmbeddingsOnReplicaPools(t *testing.T) {
	embed := func(url string) string {
		status, body := post(t, url+"/v1/embeddings", `{"input":"Once upon a time there was a ball"}`)
		var r struct {
			Data []struct{ Embedding []float32 }
		}
		if status != 200 || json.Unmarshal([]byte(body), &r) != nil || len(r.Data) != 1 || len(r.Data[0].Embedding) == 0 {
			t.Fatalf("%d %s", status, body)
		}
		return fmt.Sprint(r.Data[0].Embedding)
	}
	want := embed(startServe(t, nil))
	url := startServe(t, func(c *configs.Config) { c.DataParallelSize, c.TensorParallelSize = 2, 1 })
	for i := range 4 { // round-robin: both replicas twice
		if got := embed(url); got != want {
			t.Fatalf("request %d with -dp 2: %s, want %s", i, got, want)
		}
	}
}

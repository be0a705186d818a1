package main

import (
	"fmt"
	"log/slog"

	"github.com/kiln-llm/kiln/configs"
	"github.com/kiln-llm/kiln/native"
)

// With -dp N > 1 each replica owns a kernel thread pool of cfg.Threads()
// threads pinned to its own slice of the CPUs, and its step loop binds it:
// the replicas then run their forwards at the same time instead of taking
// turns on the process-wide pool (which serialises kernel runs). One replica
// keeps the process-wide pool, unchanged. On a machine of several NUMA
// nodes each replica's cores are of one node (placeReplicas).

// replicaCPUs deals the CPUs out as dp disjoint slices of threads CPUs each,
// in order. When there are too few CPUs for that, every slice is nil (the
// pools run unpinned) and the reason is returned for the log.
func replicaCPUs(cpus []int, dp, threads int) ([][]int, string) {
	out := make([][]int, dp)
	if len(cpus) == 0 {
		return out, "CPU set unknown"
	}
	if dp*threads > len(cpus) {
		return out, fmt.Sprintf("%d replicas x %d threads exceed the %d CPUs", dp, threads, len(cpus))
	}
	for i := range out {
		out[i] = cpus[i*threads : (i+1)*threads : (i+1)*threads]
	}
	return out, ""
}

// replicaPools starts one pinned pool per replica (nil when dp is 1).
func replicaPools(cfg *configs.Config, log *slog.Logger) ([]*native.Pool, error) {
	if cfg.DataParallelSize <= 1 {
		return nil, nil
	}
	cpus := cfg.DeviceCPUs
	if len(cpus) == 0 {
		var err error
		if cpus, err = allowedCPUs(); err != nil {
			log.Warn("serve: replicas' pools not pinned", "err", err)
		}
	}
	threads := cfg.Threads()
	nodes, err := numaNodes(sysNodeRoot)
	if err != nil {
		log.Warn("serve: NUMA nodes unknown; replicas placed in CPU order", "err", err)
	}
	sets, nodeOf, why := placeReplicas(cpus, nodes, cfg.DataParallelSize, threads)
	if why != "" {
		log.Warn("serve: replicas' pools", "reason", why)
	}
	pools := make([]*native.Pool, 0, len(sets))
	for i, set := range sets {
		p, err := native.NewPool(threads, set)
		if err != nil {
			closePools(pools)
			return nil, fmt.Errorf("serve: replica %d kernel pool: %w", i, err)
		}
		pools = append(pools, p)
		log.Info("serve: replica kernel pool", "replica", i, "threads", threads, "cpus", fmt.Sprint(set), "numa_node", nodeOf[i])
	}
	return pools, nil
}

func closePools(pools []*native.Pool) {
	for _, p := range pools {
		p.Close()
	}
}

// bindPool is the step loop hook that runs a replica's kernels on p (nil:
// no hook, the process-wide pool). A failed bind (a pin the OS refused)
// still leaves the pool bound, so it is logged, not fatal.
func bindPool(p *native.Pool, replica int, log *slog.Logger) func() func() {
	if p == nil {
		return nil
	}
	return func() func() {
		if err := p.Bind(); err != nil {
			log.Warn("serve: replica kernel pool", "replica", replica, "err", err)
		}
		return native.Unbind
	}
}

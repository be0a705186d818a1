package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// sysNodeRoot is where Linux lists the NUMA nodes (node<N>/cpulist).
const sysNodeRoot = "/sys/devices/system/node"

// numaNode is one NUMA node and its CPUs, ascending.
type numaNode struct {
	ID   int
	CPUs []int
}

// numaNodes reads the nodes under root (sysNodeRoot; tests pass a fake
// tree), by ID. No such directory (another OS, a kernel without NUMA)
// means none: callers treat the machine as one node.
func numaNodes(root string) ([]numaNode, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("numa: %w", err)
	}
	var nodes []numaNode
	for _, e := range entries {
		id, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "node"))
		if !strings.HasPrefix(e.Name(), "node") || err != nil || id < 0 {
			continue // has_cpu, online, possible, power, ...
		}
		raw, err := os.ReadFile(filepath.Join(root, e.Name(), "cpulist"))
		if err != nil {
			return nil, fmt.Errorf("numa: node %d: %w", id, err)
		}
		cpus, err := parseCPUList(strings.TrimSpace(string(raw)))
		if err != nil {
			return nil, fmt.Errorf("numa: node %d cpulist: %w", id, err)
		}
		nodes = append(nodes, numaNode{ID: id, CPUs: cpus})
	}
	slices.SortFunc(nodes, func(a, b numaNode) int { return a.ID - b.ID })
	return nodes, nil
}

// parseCPUList parses the kernel's CPU list format ("0-3,8,10-11"; empty
// for a node without CPUs) into ascending CPUs.
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= 1<<16 {
			return nil, fmt.Errorf("%q: bad CPU range %q", s, part)
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	return slices.Compact(cpus), nil
}

// placeReplicas deals the allowed cpus to dp replicas of threads cores
// each. On a machine of several NUMA nodes each replica gets cores of one
// node (so its threads share that node's memory bandwidth and caches),
// replicas going round the nodes in turn while a node has room for a
// whole replica; on one node (or none known) it is replicaCPUs, in order.
// nodeOf[i] is replica i's node (-1: unknown or spanning). note says why
// the replicas are not pinned, or why they span nodes (too few cores of
// one node for a replica); "" when all is well.
func placeReplicas(cpus []int, nodes []numaNode, dp, threads int) (sets [][]int, nodeOf []int, note string) {
	nodeOf = make([]int, dp)
	for i := range nodeOf {
		nodeOf[i] = -1
	}
	// The allowed CPUs of each node that has any.
	allowed := map[int]bool{}
	for _, c := range cpus {
		allowed[c] = true
	}
	var avail []numaNode
	for _, n := range nodes {
		var mine []int
		for _, c := range n.CPUs {
			if allowed[c] {
				mine = append(mine, c)
			}
		}
		if len(mine) > 0 {
			avail = append(avail, numaNode{ID: n.ID, CPUs: mine})
		}
	}
	if len(avail) <= 1 {
		sets, why := replicaCPUs(cpus, dp, threads)
		if len(avail) == 1 && why == "" {
			for i := range nodeOf {
				nodeOf[i] = avail[0].ID
			}
		}
		return sets, nodeOf, why
	}
	room := 0
	for _, n := range avail {
		room += len(n.CPUs) / threads
	}
	if room < dp {
		var ordered []int // node by node, so a spanning replica crosses as few nodes as can be
		for _, n := range avail {
			ordered = append(ordered, n.CPUs...)
		}
		sets, why := replicaCPUs(ordered, dp, threads)
		if why == "" {
			why = fmt.Sprintf("replicas span NUMA nodes: the %d nodes' allowed CPUs hold %d whole replicas of %d threads, not %d", len(avail), room, threads, dp)
		}
		return sets, nodeOf, why
	}
	sets = make([][]int, dp)
	used := make([]int, len(avail)) // CPUs of each node dealt so far
	for i, k := 0, 0; i < dp; k = (k + 1) % len(avail) {
		n := avail[k]
		if len(n.CPUs)-used[k] < threads {
			continue
		}
		sets[i] = n.CPUs[used[k] : used[k]+threads : used[k]+threads]
		nodeOf[i] = n.ID
		used[k] += threads
		i++
	}
	return sets, nodeOf, ""
}

// formatCPUList is parseCPUList's inverse: ascending cpus as "0-3,8".
func formatCPUList(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(cpus[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", cpus[i], cpus[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// writeTopology prints the CPUs this process may use, the NUMA nodes and,
// for dp > 1, the cores `kiln serve -dp dp -tp threads` gives each replica
// (threads 0: the allowed CPUs shared out evenly), for `kiln version`.
func writeTopology(w io.Writer, root string, dp, threads int) error {
	cpus, err := allowedCPUs()
	if err != nil {
		fmt.Fprintf(w, "cpus: unknown (%v)\n", err)
	} else {
		fmt.Fprintf(w, "cpus: %s (%d allowed)\n", formatCPUList(cpus), len(cpus))
	}
	nodes, err := numaNodes(root)
	if err != nil {
		return err
	}
	var desc []string
	for _, n := range nodes {
		desc = append(desc, fmt.Sprintf("node%d %s", n.ID, formatCPUList(n.CPUs)))
	}
	if len(desc) == 0 {
		desc = []string{"unknown"}
	}
	fmt.Fprintf(w, "numa nodes: %s\n", strings.Join(desc, "; "))
	if dp <= 1 {
		return nil
	}
	if threads <= 0 {
		threads = max(len(cpus)/dp, 1)
	}
	sets, nodeOf, note := placeReplicas(cpus, nodes, dp, threads)
	fmt.Fprintf(w, "replicas (-dp %d -tp %d):", dp, threads)
	for i, set := range sets {
		where := "unpinned"
		if len(set) > 0 {
			where = formatCPUList(slices.Sorted(slices.Values(set)))
		}
		fmt.Fprintf(w, " %d: cpus %s node %d;", i, where, nodeOf[i])
	}
	fmt.Fprintln(w)
	if note != "" {
		fmt.Fprintf(w, "  note: %s\n", note)
	}
	return nil
}

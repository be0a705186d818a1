package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSysNodes writes a sysfs-like node tree: node<i>/cpulist for each
// list, plus the files beside them that are not nodes.
func fakeSysNodes(t *testing.T, cpulists ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range []string{"online", "possible", "has_cpu"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "power"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, l := range cpulists {
		dir := filepath.Join(root, fmt.Sprintf("node%d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cpulist"), []byte(l+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func seq(a, b int) []int {
	var out []int
	for c := a; c <= b; c++ {
		out = append(out, c)
	}
	return out
}

func TestPlaceReplicas(t *testing.T) {
	cases := []struct {
		name        string
		cpulists    []string // the fake machine's nodes
		allowed     []int
		dp, threads int
		want, nodes string
		note        bool
	}{
		{"one node: in order, as without NUMA", []string{"0-1"}, seq(0, 1), 2, 1, "[[0] [1]]", "[0 0]", false},
		{"one node, too few cores", []string{"0-1"}, seq(0, 1), 2, 2, "[[] []]", "[-1 -1]", true},
		{"two nodes, a replica each", []string{"0-3", "4-7"}, seq(0, 7), 2, 4, "[[0 1 2 3] [4 5 6 7]]", "[0 1]", false},
		{"two nodes, replicas go round", []string{"0-3", "4-7"}, seq(0, 7), 4, 2, "[[0 1] [4 5] [2 3] [6 7]]", "[0 1 0 1]", false},
		{"interleaved numbering", []string{"0,2,4,6", "1,3,5,7"}, seq(0, 7), 2, 4, "[[0 2 4 6] [1 3 5 7]]", "[0 1]", false},
		{"an odd count of replicas", []string{"0-3", "4-7"}, seq(0, 7), 3, 2, "[[0 1] [4 5] [2 3]]", "[0 1 0]", false},
		{"a full node is skipped", []string{"0-3", "4-5"}, seq(0, 5), 3, 2, "[[0 1] [4 5] [2 3]]", "[0 1 0]", false},
		{"affinity leaves one node", []string{"0-3", "4-7"}, seq(4, 7), 2, 2, "[[4 5] [6 7]]", "[1 1]", false},
		{"no node holds a replica: span, said", []string{"0-3", "4-7"}, seq(2, 5), 1, 4, "[[2 3 4 5]]", "[-1]", true},
		{"a CPU-less node", []string{"0-1", "", "2-3"}, seq(0, 3), 2, 2, "[[0 1] [2 3]]", "[0 2]", false},
		{"no nodes known", nil, seq(0, 3), 2, 2, "[[0 1] [2 3]]", "[-1 -1]", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var nodes []numaNode
			if c.cpulists != nil {
				var err error
				if nodes, err = numaNodes(fakeSysNodes(t, c.cpulists...)); err != nil {
					t.Fatal(err)
				}
			}
			sets, nodeOf, note := placeReplicas(c.allowed, nodes, c.dp, c.threads)
			if fmt.Sprint(sets) != c.want || fmt.Sprint(nodeOf) != c.nodes || (note != "") != c.note {
				t.Fatalf("sets %v nodes %v note %q; want %s %s note %v", sets, nodeOf, note, c.want, c.nodes, c.note)
			}
		})
	}
}

// TestPlaceReplicasThisMachine: on a machine of one node, placement is
// exactly the plain in-order split (a no-op).
func TestPlaceReplicasThisMachine(t *testing.T) {
	nodes, err := numaNodes(sysNodeRoot)
	if err != nil {
		t.Fatal(err)
	}
	cpus, err := allowedCPUs()
	if err != nil || len(nodes) > 1 {
		t.Skipf("%d NUMA nodes, allowed CPUs %v (%v): not a one-node machine", len(nodes), cpus, err)
	}
	for dp := 1; dp <= len(cpus); dp++ {
		sets, _, note := placeReplicas(cpus, nodes, dp, len(cpus)/dp)
		plain, why := replicaCPUs(cpus, dp, len(cpus)/dp)
		if fmt.Sprint(sets) != fmt.Sprint(plain) || note != why {
			t.Errorf("-dp %d: %v (%q), the plain split %v (%q)", dp, sets, note, plain, why)
		}
	}
}

func TestNUMANodesErrors(t *testing.T) {
	if nodes, err := numaNodes(filepath.Join(t.TempDir(), "missing")); nodes != nil || err != nil {
		t.Errorf("a missing tree: %v %v, want none", nodes, err)
	}
	for _, bad := range []string{"0-", "3-1", "a", "0,,1", "-1"} {
		if _, err := numaNodes(fakeSysNodes(t, bad)); err == nil {
			t.Errorf("cpulist %q accepted", bad)
		}
	}
	nodes, err := numaNodes(fakeSysNodes(t, "0-2,8,10-11", "3"))
	if err != nil || fmt.Sprint(nodes) != "[{0 [0 1 2 8 10 11]} {1 [3]}]" {
		t.Errorf("%v %v", nodes, err)
	}
}

func TestFormatCPUList(t *testing.T) {
	for _, s := range []string{"", "0", "0-3", "0-2,8,10-11", "1,3,5"} {
		cpus, err := parseCPUList(s)
		if err != nil || formatCPUList(cpus) != s {
			t.Errorf("%q -> %v -> %q (%v)", s, cpus, formatCPUList(cpus), err)
		}
	}
}

// TestVersionPrintsReplicaCores runs `kiln version --dp 2` and
// writeTopology on a fake two-node tree.
func TestVersionPrintsReplicaCores(t *testing.T) {
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"version", "--dp", "2"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cpus: ", "numa nodes: ", "replicas (-dp 2 -tp "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version --dp 2 lacks %q:\n%s", want, out.String())
		}
	}
	cpus, err := allowedCPUs()
	if err != nil {
		t.Skip(err)
	}
	var b bytes.Buffer
	if err := writeTopology(&b, fakeSysNodes(t, formatCPUList(cpus), "1000-1003"), 2, 1); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("numa nodes: node0 %s; node1 1000-1003\n", formatCPUList(cpus)); !strings.Contains(b.String(), want) {
		t.Errorf("topology lacks %q:\n%s", want, b.String())
	}
}

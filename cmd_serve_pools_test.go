package main

import (
	"fmt"
	"sync"
	"testing"

	"github.com/kiln-llm/kiln/configs"
	"github.com/kiln-llm/kiln/native"
)

func TestReplicaCPUs(t *testing.T) {
	cases := []struct {
		name        string
		cpus        []int
		dp, threads int
		want        string
		unpinned    bool
	}{
		{"two replicas one core each", []int{0, 1}, 2, 1, "[[0] [1]]", false},
		{"two replicas two cores each", []int{0, 1, 2, 3}, 2, 2, "[[0 1] [2 3]]", false},
		{"spare cores stay unused", []int{2, 5, 7}, 1, 2, "[[2 5]]", false},
		{"too few cores", []int{0, 1}, 2, 2, "[[] []]", true},
		{"unknown CPU set", nil, 2, 1, "[[] []]", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, why := replicaCPUs(c.cpus, c.dp, c.threads)
			if s := fmt.Sprint(got); s != c.want {
				t.Errorf("got %s, want %s", s, c.want)
			}
			if (why != "") != c.unpinned {
				t.Errorf("reason %q, unpinned %v", why, c.unpinned)
			}
			if len(got) == 2 && len(got[0]) > 0 {
				got[0] = append(got[0], 99) // must not write into the next replica's set
				if got[1][0] == 99 {
					t.Error("replica sets share storage")
				}
			}
		})
	}
}

// TestServeReplicasRunAtOnce serves -dp 2 -t 1 and sends two requests at
// once: each replica's step loop runs on its own kernel pool, so the library
// sees kernel runs of both in flight together (on one shared pool it never
// can: runs are serialised). No timing is asserted; the rounds are bounded.
func TestServeReplicasRunAtOnce(t *testing.T) {
	url := startServe(t, func(c *configs.Config) { c.DataParallelSize, c.TensorParallelSize = 2, 1 })
	native.ParallelPeak(true)
	for round := 0; round < 10 && native.ParallelPeak(false) < 2; round++ {
		var wg sync.WaitGroup
		errs := make([]string, 2)
		for i := range 2 {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if status, body := post(t, url+"/v1/completions", `{"prompt":"Once upon a time","max_tokens":48,"ignore_eos":true}`); status != 200 {
					errs[i] = fmt.Sprintf("%d %s", status, body)
				}
			}(i)
		}
		wg.Wait()
		for _, e := range errs {
			if e != "" {
				t.Fatal(e)
			}
		}
	}
	if peak := native.ParallelPeak(false); peak < 2 {
		t.Fatalf("peak kernel runs in flight %d, want 2: the replicas took turns", peak)
	}
}

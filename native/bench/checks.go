package bench

import "fmt"

// Check is one acceptance figure: a measured ratio against its target.
type Check struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Target float64 `json:"target"`
	Unit   string  `json:"unit"`
	Pass   bool    `json:"pass"`
	Detail string  `json:"detail"`
}

func find(rows []Row, typ string, s Shape, m, t int) *Row {
	for i := range rows {
		r := &rows[i]
		if r.Type == typ && r.Shape.N == s.N && r.Shape.K == s.K && r.M == m && r.Threads == t {
			return r
		}
	}
	return nil
}

// acceptanceChecks derives the kernel library's targets from the rows that
// were measured (a target whose rows were not measured is left out).
func acceptanceChecks(rep *Report) []Check {
	var out []Check
	for _, c := range rep.Ceilings {
		// q8_0 as stored in the file, and q8_0_r16 as a model load repacks it (what decode reads)
		for _, typ := range []string{"q8_0", "q8_0_r16"} {
			if r := find(rep.Rows, typ, Shape{N: 8192, K: 2048}, 1, c.Threads); r != nil {
				out = append(out, Check{Name: fmt.Sprintf("%s GEMV 8192x2048, %d thread(s), of read bandwidth", typ, c.Threads),
					Value: r.PctCeiling, Target: 90, Unit: "%", Pass: r.PctCeiling >= 90,
					Detail: fmt.Sprintf("%.1f of %.1f GB/s", r.GBps, c.ReadGBps)})
			}
		}
	}
	var gemmM int
	for _, r := range rep.Rows {
		if r.M > gemmM {
			gemmM = r.M
		}
	}
	if gemmM <= 1 {
		return out
	}
	for _, c := range rep.Ceilings {
		if r := find(rep.Rows, "q8_0", Shape{N: 8192, K: 2048}, gemmM, c.Threads); r != nil && r.PctInt8Peak > 0 {
			out = append(out, Check{Name: fmt.Sprintf("q8_0 GEMM 8192x2048 m=%d, %d thread(s), of int8 peak", gemmM, c.Threads),
				Value: r.PctInt8Peak, Target: 70, Unit: "%", Pass: r.PctInt8Peak >= 70,
				Detail: fmt.Sprintf("%.1f of %.1f GOP/s", r.GFLOPS, c.Int8PeakGOPS)})
		}
	}
	for _, c := range rep.Ceilings {
		worst := Check{Name: fmt.Sprintf("f32 GEMM m=%d, %d thread(s), of FMA peak (worst shape)", gemmM, c.Threads), Target: 50, Unit: "%"}
		ratio := Check{Name: fmt.Sprintf("q8_0 / f32 GEMM GFLOP/s at m=%d, %d thread(s) (worst shape)", gemmM, c.Threads), Target: 2, Unit: "x"}
		for _, s := range shapesIn(rep.Rows) {
			f := find(rep.Rows, "f32", s, gemmM, c.Threads)
			if f == nil {
				continue
			}
			if worst.Detail == "" || f.PctCeiling < worst.Value {
				worst.Value, worst.Detail = f.PctCeiling, fmt.Sprintf("%s: %.1f GFLOP/s", s, f.GFLOPS)
			}
			if q := find(rep.Rows, "q8_0", s, gemmM, c.Threads); q != nil {
				v := q.GFLOPS / f.GFLOPS
				if ratio.Detail == "" || v < ratio.Value {
					ratio.Value, ratio.Detail = v, fmt.Sprintf("%s: %.1f vs %.1f GFLOP/s", s, q.GFLOPS, f.GFLOPS)
				}
			}
		}
		if worst.Detail != "" {
			worst.Pass = worst.Value >= worst.Target
			out = append(out, worst)
		}
		if ratio.Detail != "" {
			ratio.Pass = ratio.Value >= ratio.Target
			out = append(out, ratio)
		}
	}
	scale := Check{Name: fmt.Sprintf("2 threads / 1 thread on GEMM rows (m=%d, worst)", gemmM), Target: 1.7, Unit: "x"}
	for _, r := range rep.Rows {
		if r.M != gemmM || r.Threads != 2 {
			continue
		}
		if one := find(rep.Rows, r.Type, r.Shape, gemmM, 1); one != nil {
			v := r.GFLOPS / one.GFLOPS
			if scale.Detail == "" || v < scale.Value {
				scale.Value, scale.Detail = v, fmt.Sprintf("%s %s", r.Type, r.Shape)
			}
		}
	}
	if scale.Detail != "" {
		scale.Pass = scale.Value >= scale.Target
		out = append(out, scale)
	}
	return out
}

func shapesIn(rows []Row) []Shape {
	seen := map[Shape]bool{}
	var out []Shape
	for _, r := range rows {
		if !seen[r.Shape] {
			seen[r.Shape] = true
			out = append(out, r.Shape)
		}
	}
	return out
}

package native

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// randomKQuant fills rows of a K-quant type with random bytes and a sane
// f16 scale (and min) in every block: the speed of a matmul does not depend
// on the values, and quantizing gigabytes of floats would take minutes.
func randomKQuant(r *rand.Rand, typ Type, rows, cols int) []byte {
	b := make([]byte, rows*RowSize(typ, cols))
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	bs := RowSize(typ, 256)
	for off := 0; off < len(b); off += bs {
		switch typ {
		case Q6_K: // d is the last field
			binary.LittleEndian.PutUint16(b[off+bs-2:], 0x2000)
		case Q4_K, Q5_K: // d, dmin open the block
			binary.LittleEndian.PutUint16(b[off:], 0x2000)
			binary.LittleEndian.PutUint16(b[off+2:], 0x1000)
		}
	}
	return b
}

// BenchmarkMoEFFN times one MoE layer of qwen3-30b-a3b's shape (d 2048,
// expert width 768, 8 of 32 experts per token; 32 rather than 128 experts
// keep the set well beyond the last-level cache while sparing memory;
// 16 tokens give each expert about four rows, as 64 do over 128 experts) at
// Q4_K_M's two mixes: MoEFFN against the per-expert calls it replaces,
// alternated within every iteration so both see the same machine (the
// medians and their ratio are reported). Run it under the machine's
// benchmark lock, e.g.
// flock /work/bench.lock go test ./native -run '^$' -bench MoEFFN -benchtime 40x
func BenchmarkMoEFFN(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	defer Init(0)
	const nExpert, k, d, f = 32, 8, 2048, 768
	for _, down := range []Type{Q4_K, Q6_K} {
		w := MoEExperts{GateType: Q4_K, UpType: Q4_K, DownType: down, NExpert: nExpert, D: d, F: f,
			Gate: randomKQuant(r, Q4_K, nExpert*f, d), Up: randomKQuant(r, Q4_K, nExpert*f, d), Down: randomKQuant(r, down, nExpert*d, f)}
		for _, n := range []int{1, 16, 64} {
			x := randSlice(r, n*d, -1, 1)
			pick, weight := randomRouting(r, n, k, nExpert)
			y := make([]float32, n*d)
			ref := newPerExpertRunner(&w, n, k)
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("down=%v/t=%d/threads=%d", down, n, threads), func(b *testing.B) {
					if err := Init(threads); err != nil {
						b.Fatal(err)
					}
					var fused, per []float64
					for b.Loop() {
						t0 := time.Now()
						if err := MoEFFN(&w, x, pick, weight, y, n, k); err != nil {
							b.Fatal(err)
						}
						t1 := time.Now()
						if err := ref.run(x, pick, weight, y); err != nil {
							b.Fatal(err)
						}
						fused, per = append(fused, float64(t1.Sub(t0).Microseconds())), append(per, float64(time.Since(t1).Microseconds()))
					}
					mf, mp := median(fused), median(per)
					b.ReportMetric(mf, "fused-us")
					b.ReportMetric(mp, "per-expert-us")
					b.ReportMetric(mp/mf, "speedup")
				})
			}
		}
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// perExpertRunner is the per-expert path with its buffers allocated once.
type perExpertRunner struct {
	w                *MoEExperts
	n, k             int
	xg, gate, up, yg []float32
	out              []float32
	idx              []int
}

func newPerExpertRunner(w *MoEExperts, n, k int) *perExpertRunner {
	p := n * k
	return &perExpertRunner{w: w, n: n, k: k, xg: make([]float32, p*w.D), gate: make([]float32, p*w.F),
		up: make([]float32, p*w.F), yg: make([]float32, p*w.D), out: make([]float32, p*w.D), idx: make([]int, 0, p)}
}

func (r *perExpertRunner) run(x []float32, pick []int32, weight []float32, y []float32) error {
	w, d, f, k := r.w, r.w.D, r.w.F, r.k
	gs, us, ds := f*RowSize(w.GateType, d), f*RowSize(w.UpType, d), d*RowSize(w.DownType, f)
	for e := range w.NExpert {
		idx := r.idx[:0]
		for i, p := range pick[:r.n*k] {
			if int(p) == e {
				idx = append(idx, i)
			}
		}
		cnt := len(idx)
		if cnt == 0 {
			continue
		}
		for j, i := range idx {
			copy(r.xg[j*d:(j+1)*d], x[(i/k)*d:(i/k+1)*d])
		}
		gate, up, yg := r.gate[:cnt*f], r.up[:cnt*f], r.yg[:cnt*d]
		if err := MatMulMulti(r.xg[:cnt*d], cnt, d, MatOut{Type: w.GateType, W: w.Gate[e*gs : (e+1)*gs], Y: gate, N: f},
			MatOut{Type: w.UpType, W: w.Up[e*us : (e+1)*us], Y: up, N: f}); err != nil {
			return err
		}
		if err := SwiGLU(gate, gate, up); err != nil {
			return err
		}
		if err := MatMul(w.DownType, w.Down[e*ds:(e+1)*ds], gate, yg, cnt, d, f); err != nil {
			return err
		}
		for j, i := range idx {
			copy(r.out[i*d:(i+1)*d], yg[j*d:(j+1)*d])
		}
	}
	for i := range r.n {
		yt := y[i*d : (i+1)*d]
		for j := range k {
			o := r.out[(i*k+j)*d : (i*k+j+1)*d]
			if err := Scale(o, o, weight[i*k+j]); err != nil {
				return err
			}
			if j == 0 {
				copy(yt, o)
			} else if err := Add(yt, yt, o); err != nil {
				return err
			}
		}
	}
	return nil
}

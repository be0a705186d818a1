package native

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// tolAttn: attention outputs are convex combinations of V rows in [-1,1];
// f32 softmax and a vectorised exp keep them within this of float64.
const tolAttn = 2e-5

type pagedCase struct {
	l      *KVLayout
	maxBlk int
	tables []int32
	lens   []int32
	k, v   [][]float32 // per sequence: [len][n_head_kv*head_dim], as stored
}

// newPagedCase fills a cache of head_dim 24 for sequences of the given
// lengths through KVStore, with block tables drawn from a shuffled pool.
func newPagedCase(t *testing.T, r *rand.Rand, kvType Type, blockSize int, lens []int32) *pagedCase {
	return newPagedCaseDim(t, r, kvType, 24, blockSize, lens)
}

// newPagedCaseDim is newPagedCase with a chosen head_dim.
func newPagedCaseDim(t *testing.T, r *rand.Rand, kvType Type, headDim, blockSize int, lens []int32) *pagedCase {
	l := &KVLayout{NHead: 8, NHeadKV: 2, HeadDim: headDim, BlockSize: blockSize, KVType: kvType}
	maxBlk := 0
	for _, n := range lens {
		maxBlk = max(maxBlk, (int(n)+blockSize-1)/blockSize)
	}
	l.NBlocks = maxBlk*len(lens) + 3
	l.K = make([]byte, l.NBlocks*l.BlockBytes())
	l.V = make([]byte, l.NBlocks*l.BlockBytes())
	perm := r.Perm(l.NBlocks)
	c := &pagedCase{l: l, maxBlk: maxBlk, tables: make([]int32, len(lens)*maxBlk), lens: lens}
	for s := range lens {
		for b := 0; b < maxBlk; b++ {
			c.tables[s*maxBlk+b] = int32(perm[s*maxBlk+b])
		}
	}
	row := l.NHeadKV * l.HeadDim
	for s, n := range lens {
		k := randSlice(r, int(n)*row, -1, 1)
		v := randSlice(r, int(n)*row, -1, 1)
		slots := make([]int32, n)
		for i := range slots {
			slots[i] = c.tables[s*maxBlk+i/blockSize]*int32(blockSize) + int32(i%blockSize)
		}
		if err := KVStore(l, k, v, slots); err != nil {
			t.Fatal(err)
		}
		c.k = append(c.k, c.readBack(l.K, s, int(n)))
		c.v = append(c.v, c.readBack(l.V, s, int(n)))
	}
	return c
}

// readBack decodes a sequence's tokens from the pool, independently of C.
func (c *pagedCase) readBack(pool []byte, s, n int) []float32 {
	l := c.l
	out := make([]float32, n*l.NHeadKV*l.HeadDim)
	rb := KVRowBytes(l.KVType, l.HeadDim)
	for tok := 0; tok < n; tok++ {
		blk := int(c.tables[s*c.maxBlk+tok/l.BlockSize])
		for h := 0; h < l.NHeadKV; h++ {
			row := pool[((blk*l.NHeadKV+h)*l.BlockSize+tok%l.BlockSize)*rb:]
			for d := 0; d < l.HeadDim; d++ {
				var v float32
				switch l.KVType {
				case F16:
					v = halfToFloat(binary.LittleEndian.Uint16(row[2*d:]))
				case Q8_0:
					b := row[34*(d/QK8_0):]
					v = halfToFloat(binary.LittleEndian.Uint16(b)) * float32(int8(b[2+d%QK8_0]))
				default:
					v = math.Float32frombits(binary.LittleEndian.Uint32(row[4*d:]))
				}
				out[(tok*l.NHeadKV+h)*l.HeadDim+d] = v
			}
		}
	}
	return out
}

// TestKVStoreQ8_0 checks that a Q8_0 cache row holds the bytes the library's
// own Q8_0 quantizer (llama.cpp's, bit for bit) gives for the row
// zero-padded to whole blocks, for head_dims on and off the block size.
func TestKVStoreQ8_0(t *testing.T) {
	r := newRNG(t)
	forEachISA(t, func(t *testing.T, _ ISA) {
		for _, hd := range []int{64, 40, 8} {
			const n, bs = 19, 16
			c := newPagedCaseDim(t, r, Q8_0, hd, bs, []int32{n})
			l, rb, padded := c.l, KVRowBytes(Q8_0, hd), (hd+QK8_0-1)/QK8_0*QK8_0
			k, v := randSlice(r, n*l.NHeadKV*hd, -3, 3), randSlice(r, n*l.NHeadKV*hd, -1e-5, 1e-5)
			slots := make([]int32, n)
			for i := range slots {
				slots[i] = c.tables[i/bs]*bs + int32(i%bs)
			}
			if err := KVStore(l, k, v, slots); err != nil {
				t.Fatal(err)
			}
			for _, p := range []struct {
				name string
				pool []byte
				src  []float32
			}{{"k", l.K, k}, {"v", l.V, v}} {
				for i := range slots {
					for h := 0; h < l.NHeadKV; h++ {
						x := make([]float32, padded)
						copy(x, p.src[(i*l.NHeadKV+h)*hd:(i*l.NHeadKV+h+1)*hd])
						want := make([]byte, RowSize(Q8_0, padded))
						if err := QuantizeQ8_0(x, want); err != nil {
							t.Fatal(err)
						}
						off := ((int(slots[i]/bs)*l.NHeadKV+h)*bs + i%bs) * rb
						if got := p.pool[off : off+rb]; !bytes.Equal(got, want) {
							t.Fatalf("head_dim %d %s token %d head %d: stored %x, quantizer %x", hd, p.name, i, h, got, want)
						}
					}
				}
			}
		}
	})
}

// naive is float64 attention of one query row (all heads) over the first n tokens of s.
func (c *pagedCase) naive(q []float32, s, n int) []float64 {
	l := c.l
	out := make([]float64, l.NHead*l.HeadDim)
	scale := 1 / math.Sqrt(float64(l.HeadDim))
	for h := 0; h < l.NHead; h++ {
		kh := h / (l.NHead / l.NHeadKV)
		scores := make([]float64, n)
		mx := math.Inf(-1)
		for tok := 0; tok < n; tok++ {
			var dot float64
			for d := 0; d < l.HeadDim; d++ {
				dot += float64(q[h*l.HeadDim+d]) * float64(c.k[s][(tok*l.NHeadKV+kh)*l.HeadDim+d])
			}
			scores[tok] = dot * scale
			mx = math.Max(mx, scores[tok])
		}
		var sum float64
		for tok := range scores {
			scores[tok] = math.Exp(scores[tok] - mx)
			sum += scores[tok]
		}
		for tok := 0; tok < n; tok++ {
			for d := 0; d < l.HeadDim; d++ {
				out[h*l.HeadDim+d] += scores[tok] / sum * float64(c.v[s][(tok*l.NHeadKV+kh)*l.HeadDim+d])
			}
		}
	}
	return out
}

func TestPagedAttention(t *testing.T) {
	r := newRNG(t)
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, kt := range []struct {
			typ     Type
			headDim int
		}{{F32, 24}, {F16, 24}, {Q8_0, 24}, {Q8_0, 64}} {
			for _, bs := range []int{16, 32} {
				lens := []int32{1, 17, 40, 33}
				c := newPagedCaseDim(t, r, kt.typ, kt.headDim, bs, lens)
				row := c.l.NHead * c.l.HeadDim

				q := randSlice(r, len(lens)*row, -1, 1)
				out := poisoned(len(q))
				if err := AttnDecode(c.l, q, out, c.tables, c.maxBlk, lens); err != nil {
					t.Fatal(err)
				}
				for s, n := range lens {
					closeTo(t, "decode", out[s*row:(s+1)*row], c.naive(q[s*row:], s, int(n)), tolAttn, 0)
				}

				// prefill: the last nq tokens of each sequence as new queries
				qStart := []int32{0}
				for _, n := range lens {
					qStart = append(qStart, qStart[len(qStart)-1]+min(n, 5))
				}
				nq := int(qStart[len(lens)])
				qp := randSlice(r, nq*row, -1, 1)
				outp := poisoned(nq * row)
				if err := AttnPrefill(c.l, qp, outp, qStart, lens, c.tables, c.maxBlk); err != nil {
					t.Fatal(err)
				}
				for s, n := range lens {
					cnt := int(qStart[s+1] - qStart[s])
					for j := 0; j < cnt; j++ {
						qi := int(qStart[s]) + j
						visible := int(n) - cnt + j + 1
						closeTo(t, "prefill", outp[qi*row:(qi+1)*row], c.naive(qp[qi*row:], s, visible), tolAttn, 0)
						// the same query through decode gives the same bits
						one := poisoned(row)
						if err := AttnDecode(c.l, qp[qi*row:(qi+1)*row], one, c.tables[s*c.maxBlk:(s+1)*c.maxBlk], c.maxBlk, []int32{int32(visible)}); err != nil {
							t.Fatal(err)
						}
						sameBits(t, "prefill vs decode", outp[qi*row:(qi+1)*row], one)
					}
				}
			}
		}
	})
}

func TestAttentionBadArguments(t *testing.T) {
	r := newRNG(t)
	c := newPagedCase(t, r, F16, 16, []int32{4})
	row := c.l.NHead * c.l.HeadDim
	q, out := make([]float32, row), make([]float32, row)
	bad := *c.l
	bad.NHeadKV = 3
	if err := AttnDecode(&bad, q, out, c.tables, c.maxBlk, []int32{4}); !errors.Is(err, ErrSize) {
		t.Fatalf("heads not divisible: %v", err)
	}
	if err := AttnDecode(c.l, q, out, c.tables, c.maxBlk, []int32{int32(c.l.NBlocks*16 + 1)}); !errors.Is(err, ErrSize) {
		t.Fatalf("seq longer than its table: %v", err)
	}
	tbl := []int32{int32(c.l.NBlocks)}
	if err := AttnDecode(c.l, q, out, tbl, 1, []int32{4}); !errors.Is(err, ErrIndex) {
		t.Fatalf("block past the pool: %v", err)
	}
	short := *c.l
	short.K = short.K[:10]
	if err := KVStore(&short, q, q, []int32{0}); !errors.Is(err, ErrSize) {
		t.Fatalf("short pool: %v", err)
	}
	if err := KVStore(c.l, make([]float32, 48), make([]float32, 48), []int32{int32(c.l.NBlocks * 16)}); !errors.Is(err, ErrIndex) {
		t.Fatalf("slot past the pool: %v", err)
	}
	typed := *c.l
	typed.KVType = BF16
	if err := AttnDecode(&typed, q, out, c.tables, c.maxBlk, []int32{4}); !errors.Is(err, ErrType) {
		t.Fatalf("bf16 kv: %v", err)
	}
	typed.KVType = Q4_0
	if err := KVStore(&typed, q, q, []int32{0}); !errors.Is(err, ErrType) {
		t.Fatalf("q4_0 kv: %v", err)
	}
}

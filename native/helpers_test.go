package native

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// newRNG is fresh per run; KILN_TEST_SEED replays a failure.
func newRNG(t testing.TB) *rand.Rand {
	seed := uint64(rand.Int64())
	if s := os.Getenv("KILN_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 0, 64)
	}
	t.Logf("seed %d (replay with KILN_TEST_SEED)", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func randSlice(r *rand.Rand, n int, lo, hi float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = lo + (hi-lo)*r.Float32()
	}
	return x
}

func poisoned(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.NaN())
	}
	return x
}

// halfToFloat decodes IEEE binary16 independently of the C code.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0:
		v := float32(mant) * float32(math.Pow(2, -24))
		if sign != 0 {
			v = -v
		}
		return v
	case exp == 31:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | mant<<13)
}

// dequantizeRef expands n elements of type t with plain Go arithmetic.
func dequantizeRef(t Type, w []byte, n int) []float64 {
	out := make([]float64, n)
	switch t {
	case F32:
		for i := range out {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:])))
		}
	case F16:
		for i := range out {
			out[i] = float64(halfToFloat(binary.LittleEndian.Uint16(w[2*i:])))
		}
	case BF16:
		for i := range out {
			out[i] = float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(w[2*i:])) << 16))
		}
	case Q8_0:
		for b := 0; b < n/QK8_0; b++ {
			blk := w[34*b:]
			d := float64(halfToFloat(binary.LittleEndian.Uint16(blk)))
			for j := 0; j < QK8_0; j++ {
				out[b*QK8_0+j] = d * float64(int8(blk[2+j]))
			}
		}
	}
	return out
}

// encodeWeights stores f32 values as type t through the library's own conversions.
func encodeWeights(t testing.TB, typ Type, f []float32) []byte {
	t.Helper()
	switch typ {
	case F32:
		b := make([]byte, 4*len(f))
		for i, v := range f {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b
	case F16, BF16:
		h := make([]uint16, len(f))
		conv := F32ToF16
		if typ == BF16 {
			conv = F32ToBF16
		}
		if err := conv(f, h); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 2*len(h))
		for i, v := range h {
			binary.LittleEndian.PutUint16(b[2*i:], v)
		}
		return b
	case Q8_0:
		b := make([]byte, RowSize(Q8_0, len(f)))
		if err := QuantizeQ8_0(f, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("type %v", typ)
	return nil
}

// closeTo checks |got-want| <= atol + rtol*|want| everywhere (NaN fails).
func closeTo(t testing.TB, what string, got []float32, want []float64, atol, rtol float64) {
	t.Helper()
	for i := range want {
		d := math.Abs(float64(got[i]) - want[i])
		if !(d <= atol+rtol*math.Abs(want[i])) {
			t.Fatalf("%s: [%d] got %g want %g (atol %g rtol %g)", what, i, got[i], want[i], atol, rtol)
		}
	}
}

func sameBits(t testing.TB, what string, a, b []float32) {
	t.Helper()
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("%s: not bit-identical at [%d]: %g vs %g", what, i, a[i], b[i])
		}
	}
}

// forEachISA runs f under every variant this CPU supports, restoring the default.
func forEachISA(t *testing.T, f func(t *testing.T, isa ISA)) {
	def := CurrentISA()
	defer SetISA(def)
	for _, isa := range AllISAs {
		t.Run(isa.String(), func(t *testing.T) {
			if !Supported(isa) {
				t.Skipf("%s not supported by this CPU", isa)
			}
			if err := SetISA(isa); err != nil {
				t.Fatal(err)
			}
			f(t, isa)
		})
	}
}

func TestMain(m *testing.M) {
	if err := Init(0); err != nil {
		os.Stderr.WriteString("kernel library: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

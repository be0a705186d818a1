package native

import (
	"errors"
	"math"
	"testing"
)

// Tolerances for the element-wise ops against float64 Go references: a few
// f32 ulps, plus the error of vectorised exp (softmax, swiglu).
const (
	tolOpsAtol = 1e-5
	tolOpsRtol = 1e-5
	tolExpRtol = 2e-5
	// RoPE angles reach pos*1 rad; f32 argument rounding at pos ~ 5000 is ~3e-4 rad.
	tolRoPEAtol = 2e-3
)

func TestElementwiseOps(t *testing.T) {
	r := newRNG(t)
	forEachISA(t, func(t *testing.T, isa ISA) {
		const m, n = 3, 37
		x := randSlice(r, m*n, -3, 3)
		b := randSlice(r, m*n, -3, 3)
		w := randSlice(r, n, 0.5, 1.5)

		y := poisoned(m * n)
		if err := RMSNorm(y, x, w, m, n, 1e-5); err != nil {
			t.Fatal(err)
		}
		want := make([]float64, m*n)
		for i := 0; i < m; i++ {
			var ss float64
			for j := 0; j < n; j++ {
				ss += float64(x[i*n+j]) * float64(x[i*n+j])
			}
			inv := 1 / math.Sqrt(ss/n+1e-5)
			for j := 0; j < n; j++ {
				want[i*n+j] = float64(x[i*n+j]) * inv * float64(w[j])
			}
		}
		closeTo(t, "rmsnorm", y, want, tolOpsAtol, tolOpsRtol)

		y = poisoned(m * n)
		if err := Softmax(y, x, m, n); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < m; i++ {
			mx := math.Inf(-1)
			for j := 0; j < n; j++ {
				mx = math.Max(mx, float64(x[i*n+j]))
			}
			var s float64
			for j := 0; j < n; j++ {
				want[i*n+j] = math.Exp(float64(x[i*n+j]) - mx)
				s += want[i*n+j]
			}
			for j := 0; j < n; j++ {
				want[i*n+j] /= s
			}
		}
		closeTo(t, "softmax", y, want, tolOpsAtol, tolExpRtol)

		y = poisoned(m * n)
		if err := SwiGLU(y, x, b); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			g := float64(x[i])
			want[i] = g / (1 + math.Exp(-g)) * float64(b[i])
		}
		closeTo(t, "swiglu", y, want, tolOpsAtol, tolExpRtol)

		y = poisoned(m * n)
		if err := Add(y, x, b); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			want[i] = float64(x[i] + b[i])
		}
		closeTo(t, "add", y, want, 0, 0)

		y = poisoned(m * n)
		if err := Scale(y, x, 0.125); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			want[i] = float64(x[i]) * 0.125
		}
		closeTo(t, "scale", y, want, 0, 0)
	})
}

func TestRoPEBothModes(t *testing.T) {
	r := newRNG(t)
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, mode := range []RoPEMode{RoPENormal, RoPENeoX} {
			p := RoPEParams{NHeads: 3, HeadDim: 16, Dims: 12, Mode: mode, FreqBase: 10000, FreqScale: 0.5,
				FreqFactors: []float32{1, 1, 2, 4, 8, 1}}
			pos := []int32{0, 1, 17, 5000}
			x := randSlice(r, len(pos)*p.NHeads*p.HeadDim, -1, 1)
			want := make([]float64, len(x))
			for i := range x {
				want[i] = float64(x[i])
			}
			for ti, ps := range pos {
				for h := 0; h < p.NHeads; h++ {
					base := (ti*p.NHeads + h) * p.HeadDim
					for j := 0; j < p.Dims/2; j++ {
						theta := float64(ps) * float64(p.FreqScale) * math.Pow(float64(p.FreqBase), -2*float64(j)/float64(p.Dims)) / float64(p.FreqFactors[j])
						a, b := base+2*j, base+2*j+1
						if mode == RoPENeoX {
							a, b = base+j, base+j+p.Dims/2
						}
						x0, x1 := float64(x[a]), float64(x[b])
						want[a] = x0*math.Cos(theta) - x1*math.Sin(theta)
						want[b] = x0*math.Sin(theta) + x1*math.Cos(theta)
					}
				}
			}
			if err := RoPE(x, pos, p); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "rope", x, want, tolRoPEAtol, 0)
		}
	})
}

func TestConversionsAndGetRows(t *testing.T) {
	r := newRNG(t)
	f := randSlice(r, 96, -4, 4)
	f[0], f[1] = 6e-8, -65504
	for _, typ := range []Type{F32, F16, BF16, Q8_0} {
		enc := encodeWeights(t, typ, f)
		want := dequantizeRef(typ, enc, len(f))
		got := poisoned(len(f))
		if err := Dequantize(typ, enc, got); err != nil {
			t.Fatal(err)
		}
		closeTo(t, "dequantize "+typ.String(), got, want, 0, 0)

		const k = 32
		ids := []int32{2, 0, 2}
		rows := poisoned(len(ids) * k)
		if err := GetRows(typ, enc, 3, k, ids, rows); err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			closeTo(t, "get_rows "+typ.String(), rows[i*k:(i+1)*k], want[int(id)*k:int(id+1)*k], 0, 0)
		}
		if err := GetRows(typ, enc, 3, k, []int32{3}, rows); !errors.Is(err, ErrIndex) {
			t.Fatalf("get_rows id past the table: got %v, want ErrIndex", err)
		}
	}
	h := make([]uint16, 4)
	if err := F32ToF16([]float32{1, -2, 0.5, 65504}, h); err != nil {
		t.Fatal(err)
	}
	if h[0] != 0x3c00 || h[1] != 0xc000 || h[2] != 0x3800 || h[3] != 0x7bff {
		t.Fatalf("f32->f16: %#x", h)
	}
	back := make([]float32, 4)
	if err := F16ToF32(h, back); err != nil || back[3] != 65504 {
		t.Fatalf("f16->f32: %v %v", back, err)
	}
	if err := F32ToBF16([]float32{1.00390625}, h[:1]); err != nil || h[0] != 0x3f80 {
		t.Fatalf("bf16 ties to even: %#x %v", h[0], err)
	}
	if err := BF16ToF32([]uint16{0x4049}, back[:1]); err != nil || back[0] != 3.140625 {
		t.Fatalf("bf16->f32: %v %v", back[0], err)
	}
}

func TestOpsBadArguments(t *testing.T) {
	x := make([]float32, 8)
	cases := []struct {
		name string
		err  error
		call func() error
	}{
		{"rmsnorm short", ErrSize, func() error { return RMSNorm(x, x, nil, 2, 8, 1e-5) }},
		{"softmax zero", ErrSize, func() error { return Softmax(x, x, 0, 8) }},
		{"swiglu short", ErrSize, func() error { return SwiGLU(x, x[:2], x) }},
		{"rope odd dims", ErrSize, func() error {
			return RoPE(x, []int32{0}, RoPEParams{NHeads: 1, HeadDim: 8, Dims: 3, FreqBase: 1e4, FreqScale: 1})
		}},
		{"rope bad mode", ErrSize, func() error {
			return RoPE(x, []int32{0}, RoPEParams{NHeads: 1, HeadDim: 8, Dims: 8, Mode: 1, FreqBase: 1e4, FreqScale: 1})
		}},
		{"dequantize type", ErrType, func() error { return Dequantize(Type(9), make([]byte, 64), x) }}, // Q8_1: an activation type
		{"dequantize partial block", ErrAlign, func() error { return Dequantize(Q4_1, make([]byte, 64), x) }},
		{"get_rows empty", ErrSize, func() error { return GetRows(F32, make([]byte, 32), 1, 8, nil, x) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, c.err) {
				t.Fatalf("got %v, want %v", err, c.err)
			}
		})
	}
}

package native

import "runtime"

// MoEExperts is one mixture-of-experts layer's stacked expert weights:
// Gate and Up hold NExpert matrices [F, D] one after another, Down NExpert
// matrices [D, F], each of its type in GGUF's layout (used in place).
type MoEExperts struct {
	GateType, UpType, DownType Type
	Gate, Up, Down             []byte
	NExpert, D, F              int
}

// moeShape mirrors kiln_moe_shape exactly (no Go pointers, so cgo may take its address).
type moeShape struct {
	GateType, UpType, DownType, reserved int32
	NExpert, D, F, T, K                  int64
}

// MoEFFNSupports reports whether MoEFFN takes weights of type t: the types
// whose kernels read the activations as Q8_K (the K-quants and IQ4_XS).
func MoEFFNSupports(t Type) bool {
	switch t {
	case Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS:
		return true
	}
	return false
}

// MoEFFN computes y[i] = Σ_j weight[i,j] · down_e(silu(gate_e·x[i]) * (up_e·x[i]))
// with e = pick[i,j], for the t rows of x [t, D], k experts per row, the
// slots summed in order. It is one native call: the pairs are grouped by
// expert (each chosen expert's weights read once) and all experts' work is
// one pool task; bit-identical to running each expert through MatMulMulti
// (gate, up), SwiGLU and MatMul (down), then Scale and Add per slot. D and F
// must be multiples of 256 and every type one MoEFFNSupports; an expert id
// outside [0, NExpert) is ErrIndex. y must not overlap x.
func MoEFFN(w *MoEExperts, x []float32, pick []int32, weight []float32, y []float32, t, k int) error {
	const op = "moe_ffn"
	if w == nil {
		return argError(op, ErrNull, "nil experts")
	}
	if w.NExpert <= 0 || w.D <= 0 || w.F <= 0 || t <= 0 || k <= 0 || k > w.NExpert {
		return argError(op, ErrSize, "n_expert=%d d=%d f=%d t=%d k=%d", w.NExpert, w.D, w.F, t, k)
	}
	if w.D%256 != 0 || w.F%256 != 0 {
		return argError(op, ErrAlign, "d=%d f=%d must be multiples of 256", w.D, w.F)
	}
	for _, m := range []struct {
		name string
		typ  Type
		data []byte
		k    int
		n    int
	}{{"gate", w.GateType, w.Gate, w.D, w.F}, {"up", w.UpType, w.Up, w.D, w.F}, {"down", w.DownType, w.Down, w.F, w.D}} {
		if !MoEFFNSupports(m.typ) {
			return argError(op, ErrType, "%s weight type %v", m.name, m.typ)
		}
		if want := w.NExpert * m.n * RowSize(m.typ, m.k); len(m.data) < want {
			return argError(op, ErrSize, "%s: len=%d, want >= %d", m.name, len(m.data), want)
		}
	}
	if len(x) < t*w.D || len(y) < t*w.D || len(pick) < t*k || len(weight) < t*k {
		return argError(op, ErrSize, "len(x)=%d len(y)=%d len(pick)=%d len(weight)=%d, want >= %d, %d, %d, %d",
			len(x), len(y), len(pick), len(weight), t*w.D, t*w.D, t*k, t*k)
	}
	if err := load(); err != nil {
		return err
	}
	s := moeShape{GateType: int32(w.GateType), UpType: int32(w.UpType), DownType: int32(w.DownType),
		NExpert: int64(w.NExpert), D: int64(w.D), F: int64(w.F), T: int64(t), K: int64(k)}
	rc := bMoEFFN(&s, ptr(w.Gate), ptr(w.Up), ptr(w.Down), ptr(x), ptr(pick), ptr(weight), ptr(y))
	runtime.KeepAlive(w)
	runtime.KeepAlive(x)
	runtime.KeepAlive(pick)
	runtime.KeepAlive(weight)
	runtime.KeepAlive(y)
	return check(op, rc)
}

package native

import "runtime"

// RepackType is the type Repack makes of t when the active kernel variant
// reads it faster than t itself (today Q8_0 -> Q8_0R16 on AVX2 and AVX-512);
// false when there is none.
func RepackType(t Type) (Type, bool) {
	if err := load(); err != nil {
		return 0, false
	}
	r := bRepackType(int32(t))
	if r < 0 {
		return 0, false
	}
	return Type(r), true
}

// Repack writes w, n rows of k elements of type t (Q8_0, GGUF layout), into
// out as Q8_0R16: len(out) >= n*RowSize(t, k), n a multiple of 16 and k of
// 64. Runs on the kernel thread pool.
func Repack(t Type, w []byte, n, k int, out []byte) error {
	const op = "repack"
	if n <= 0 || k <= 0 {
		return argError(op, ErrSize, "n=%d k=%d must be positive", n, k)
	}
	if t != Q8_0 {
		return argError(op, ErrType, "type %v (only q8_0 has a repacked layout)", t)
	}
	rs := RowSize(t, k)
	if rs == 0 {
		return argError(op, ErrAlign, "k=%d is not a multiple of %v's block", k, t)
	}
	if len(w) < n*rs || len(out) < n*rs {
		return argError(op, ErrSize, "len(w)=%d len(out)=%d, want >= %d", len(w), len(out), n*rs)
	}
	if err := load(); err != nil {
		return err
	}
	rc := bRepack(int32(t), ptr(w), int64(n), int64(k), ptr(out))
	runtime.KeepAlive(w)
	runtime.KeepAlive(out)
	return check(op, rc)
}

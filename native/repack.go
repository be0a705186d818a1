package native

import "runtime"

// RepackType is the type Repack makes of t when the active kernel variant
// reads it faster than t itself (e.g. Q8_0 -> Q8_0R16 on AVX2 and AVX-512);
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

// Repack writes w, n rows of k elements of type t (GGUF layout), into out
// as t's repacked type r (the one RepackType names, whichever the active
// variant is): len(out) >= n*RowSize(r, k), n a multiple of 16 and k a whole
// number of r's blocks. Runs on the kernel thread pool.
func Repack(t Type, w []byte, n, k int, out []byte) error {
	const op = "repack"
	if n <= 0 || k <= 0 {
		return argError(op, ErrSize, "n=%d k=%d must be positive", n, k)
	}
	r := Type(-1)
	for _, ri := range repackedInfos {
		if ri.source == t {
			r = ri.t
		}
	}
	if r < 0 {
		return argError(op, ErrType, "type %v has no repacked layout", t)
	}
	rs, ps := RowSize(t, k), RowSize(r, k)
	if rs == 0 || ps == 0 || n%16 != 0 {
		return argError(op, ErrAlign, "n=%d k=%d: n must be a multiple of 16 and k of %v's block (%d)", n, k, r, r.BlockSize())
	}
	if len(w) < n*rs || len(out) < n*ps {
		return argError(op, ErrSize, "len(w)=%d len(out)=%d, want >= %d and %d", len(w), len(out), n*rs, n*ps)
	}
	if err := load(); err != nil {
		return err
	}
	rc := bRepack(int32(t), ptr(w), int64(n), int64(k), ptr(out))
	runtime.KeepAlive(w)
	runtime.KeepAlive(out)
	return check(op, rc)
}

package native

import "runtime"

// GeGLUTanh sets y = gelu_tanh(gate) * up over len(y) elements (gemma's
// FFN; GELU with the tanh approximation, as ggml and gemma define it).
func GeGLUTanh(y, gate, up []float32) error {
	const op = "geglu_tanh"
	n := len(y)
	if n == 0 || len(gate) < n || len(up) < n {
		return argError(op, ErrSize, "len(y)=%d len(gate)=%d len(up)=%d", n, len(gate), len(up))
	}
	if err := load(); err != nil {
		return err
	}
	rc := bGeGLUTanh(ptr(y), ptr(gate), ptr(up), int64(n))
	runtime.KeepAlive(y)
	runtime.KeepAlive(gate)
	runtime.KeepAlive(up)
	return check(op, rc)
}

// Softcap sets y = cap * tanh(x / cap) over len(y) elements (cap > 0):
// gemma2's final-logit soft-capping.
func Softcap(y, x []float32, cap float32) error {
	const op = "softcap"
	n := len(y)
	if n == 0 || len(x) < n {
		return argError(op, ErrSize, "len(y)=%d len(x)=%d", n, len(x))
	}
	if !(cap > 0) {
		return argError(op, ErrSize, "cap %v: want > 0", cap)
	}
	if err := load(); err != nil {
		return err
	}
	rc := bSoftcap(ptr(y), ptr(x), cap, int64(n))
	runtime.KeepAlive(y)
	runtime.KeepAlive(x)
	return check(op, rc)
}

// AttnWindow is AttnPrefill (same arguments, same query numbering) for
// sliding-window and soft-capped layers: a query at position p sees tokens
// max(0, p-window+1)..p (window <= 0: all of them), and a score s becomes
// softcap*tanh(s/softcap) when softcap > 0. A query's result depends only on
// itself and the cache, so decode ≡ prefill and batch invariance hold.
func AttnWindow(l *KVLayout, q, out []float32, qStart, ctxLens, blockTables []int32, maxBlocks, window int, softcap float32) error {
	const op = "attn_window"
	f, nSeq, err := l.prefillArgs(op, q, out, qStart, ctxLens, blockTables, maxBlocks)
	if err != nil {
		return err
	}
	rc := bAttnWindow(&f, ptr(l.K), ptr(l.V), ptr(q), ptr(out), int64(nSeq), ptr(qStart), ptr(ctxLens), ptr(blockTables),
		int32(maxBlocks), int32(window), softcap)
	runtime.KeepAlive(l)
	runtime.KeepAlive(q)
	runtime.KeepAlive(out)
	runtime.KeepAlive(qStart)
	runtime.KeepAlive(ctxLens)
	runtime.KeepAlive(blockTables)
	return check(op, rc)
}

// ScaleStrided multiplies the first n elements of each of the rows rows of
// x (rows stride elements apart) by s, in place: LongRoPE's attention
// factor on the rotated dimensions of every head.
func ScaleStrided(x []float32, rows, stride, n int, s float32) error {
	const op = "scale_strided"
	if rows <= 0 || n <= 0 || stride < n || len(x) < (rows-1)*stride+n {
		return argError(op, ErrSize, "len(x)=%d rows=%d stride=%d n=%d", len(x), rows, stride, n)
	}
	if err := load(); err != nil {
		return err
	}
	rc := bScaleStrided(ptr(x), int64(rows), int64(stride), int64(n), s)
	runtime.KeepAlive(x)
	return check(op, rc)
}

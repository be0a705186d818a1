package model

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kiln-llm/kiln/native"
)

// RepackStats says what Load repacked (see WithRepack): how many matrices,
// their bytes (anonymous memory that replaces the file's pages of those
// matrices, which Load releases), and how long it took.
type RepackStats struct {
	Tensors int           `json:"tensors"`
	Bytes   int64         `json:"bytes"`
	Took    time.Duration `json:"took_ns"`
	Type    string        `json:"type,omitempty"` // the layouts they were repacked into, comma-separated
}

// WithRepack turns repacking at load on or off (default on). On, the
// matrices every token reads (attention and FFN projections and the output
// head) whose type has a layout the active kernels read faster are copied
// into it once (native.RepackType, e.g. Q8_0 -> Q8_0R16 on AVX2 and AVX-512,
// read as one sequential stream: llama3.2-1b decode 1.6x on AVX-512 VNNI).
// Every batch reads the copy: the decode GEMV directly, the prefill GEMM
// through the portable path that unpacks runs of 64 rows into its scratch
// (as fast as reading the file's layout: the GEMM repacks its panels
// anyway). The file's pages of those matrices are then released (they stay
// in the page cache, shared and reclaimable), so a process holds each weight
// once. Results keep their bits. Off, every weight is used in place from the
// mapping.
func WithRepack(on bool) Option {
	return func(o *options) error {
		o.noRepack = !on
		return nil
	}
}

// repackable lists the matrices repacking considers: each token's dense
// projections and the output head. Expert stacks stay as they are (their
// rows are sliced per expert).
func repackable(w *Weights) []*Matrix {
	var ms []*Matrix
	for i := range w.Layers {
		l := &w.Layers[i]
		ms = append(ms, &l.Q, &l.K, &l.V, &l.O, &l.Gate, &l.Up, &l.Down)
	}
	return append(ms, &w.Output)
}

// repackWeights repacks every eligible matrix of w into one anonymous
// mapping (Matrix.Packed), which the caller frees with the returned
// function after the last Forward, and hands each one's source bytes to
// release (nil: keep them).
func repackWeights(w *Weights, release func([]byte) error) (RepackStats, func() error, error) {
	start := time.Now()
	var todo []*Matrix
	var tos []native.Type
	var sizes []int
	var names []string
	total := 0
	for _, mx := range repackable(w) {
		if mx.Data == nil || mx.Rows%16 != 0 {
			continue
		}
		rt, ok := native.RepackType(mx.Type)
		size := native.RowSize(rt, mx.Cols) * mx.Rows
		if !ok || size == 0 { // no layout, or k is not a whole number of its blocks
			continue
		}
		if !slices.Contains(names, rt.String()) {
			names = append(names, rt.String())
		}
		todo, tos, sizes = append(todo, mx), append(tos, rt), append(sizes, size)
		total += size
	}
	if len(todo) == 0 {
		return RepackStats{}, func() error { return nil }, nil
	}
	buf, free, err := native.MapWeights(total)
	if err != nil {
		return RepackStats{}, nil, fmt.Errorf("repack: %d bytes: %w", total, err)
	}
	off := 0
	for i, mx := range todo {
		n := sizes[i]
		out := buf[off : off+n : off+n]
		if err := native.Repack(mx.Type, mx.Data, mx.Rows, mx.Cols, out); err != nil {
			_ = free()
			return RepackStats{}, nil, fmt.Errorf("repack %s: %w", mx.Name, err)
		}
		if release != nil { // at once, so the load never holds every weight twice
			_ = release(mx.Data) // advice: a failure only leaves the pages resident
		}
		off += n
	}
	off = 0
	for i, mx := range todo {
		n := sizes[i]
		mx.Packed, mx.PackedType = buf[off:off+n:off+n], tos[i]
		off += n
	}
	return RepackStats{Tensors: len(todo), Bytes: int64(total), Took: time.Since(start), Type: strings.Join(names, ",")}, free, nil
}

// Package modelbench measures a whole model the way llama-bench does —
// prefill of P prompt tokens (ppP) and decode of N tokens one at a time
// (tgN), from an empty context or after D tokens already in the K/V cache
// (llama-bench's -d: what attention over a long context costs) — and
// relates both to this machine's ceilings
// measured in the same run: decode to the memory-bandwidth roofline (every
// weight byte is read once per token) and prefill to the FMA peak. It backs
// `kiln bench model`.
package modelbench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
	"github.com/kiln-llm/kiln/native/bench"
)

// Options select what Run measures.
type Options struct {
	Prompt     int              // prompt tokens of the prefill test (0: skip it)
	Gen        int              // tokens of the decode test (0: skip it)
	Depth      int              // tokens in the context before each test (prefilled once, untimed)
	Threads    []int            // thread counts, each measured in turn
	Reps       int              // repetitions of each test; the median is reported
	KVType     native.Type      // K/V cache type (native.F16, native.F32 or native.Q8_0)
	BWBytes    int              // buffer of the read-bandwidth probe (several times the LLC)
	FMASeconds float64          // duration of the FMA-peak probe
	Seed       uint64           // seeds the random token ids
	Progress   io.Writer        // nil: silent
	Now        func() time.Time // clock; nil: time.Now
}

// DefaultOptions are llama-bench's defaults (pp512, tg128, 5 repetitions)
// over 1 and 2 threads with an F16 K/V cache.
func DefaultOptions() Options {
	return Options{Prompt: 512, Gen: 128, Threads: []int{1, 2}, Reps: 5, KVType: native.F16,
		BWBytes: 512 << 20, FMASeconds: 0.5, Seed: 1}
}

func (o *Options) validate(m *model.Model) error {
	switch {
	case o.Prompt < 0 || o.Gen < 0 || o.Prompt+o.Gen == 0:
		return fmt.Errorf("bench model: prompt %d and gen %d tokens: want >= 0, not both 0", o.Prompt, o.Gen)
	case o.Prompt > m.MaxBatchTokens():
		return fmt.Errorf("bench model: prompt of %d tokens exceeds the model's max batch of %d (load it with a larger one)", o.Prompt, m.MaxBatchTokens())
	case o.Depth < 0:
		return fmt.Errorf("bench model: depth %d: want >= 0", o.Depth)
	case m.Config.NCtx > 0 && o.Depth+max(o.Prompt, o.Gen) > m.Config.NCtx:
		return fmt.Errorf("bench model: %d tokens exceed the model's context of %d", o.Depth+max(o.Prompt, o.Gen), m.Config.NCtx)
	case len(o.Threads) == 0:
		return fmt.Errorf("bench model: no thread counts")
	case o.Reps <= 0:
		return fmt.Errorf("bench model: repetitions %d: want > 0", o.Reps)
	case !native.KVTypeSupported(o.KVType):
		return fmt.Errorf("bench model: kv type %v: want f16, f32 or q8_0", o.KVType)
	}
	for _, t := range o.Threads {
		if t <= 0 {
			return fmt.Errorf("bench model: thread count %d: want > 0", t)
		}
	}
	return nil
}

// Run measures m under o. The model must have been loaded with a max batch
// of at least o.Prompt tokens.
func Run(m *model.Model, o Options) (*Report, error) {
	if err := o.validate(m); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	rep := newReport(m, o)
	r := &runner{m: m, o: o, rng: o.Seed | 1}
	for _, t := range o.Threads {
		if err := native.Init(t); err != nil {
			return nil, err
		}
		c, err := bench.MeasureCeilings(t, o.BWBytes, o.FMASeconds)
		if err != nil {
			return nil, err
		}
		r.progress("%d thread(s): read %.1f GB/s, FMA peak %.1f GFLOP/s\n", t, c.ReadGBps, c.FMAPeakGFLOPS)
		res := Result{Threads: t, Ceilings: c, PromptTokens: o.Prompt, GenTokens: o.Gen}
		if o.Prompt > 0 {
			if res.PrefillSeconds, err = r.median(r.prefill); err != nil {
				return nil, err
			}
		}
		if o.Gen > 0 {
			if res.DecodeSeconds, res.DecodeBWGBps, err = r.decodeBesideBandwidth(t); err != nil {
				return nil, err
			}
		}
		rep.add(res)
		r.progress("  pp%d %.1f tokens/s, tg%d %.2f tokens/s\n", o.Prompt, rep.Results[len(rep.Results)-1].PrefillTPS,
			o.Gen, rep.Results[len(rep.Results)-1].DecodeTPS)
	}
	rep.ISA = native.CurrentISA().String()
	return rep, nil
}

// runner holds one Run's cache and token buffers, reused by every repetition.
type runner struct {
	m      *model.Model
	o      Options
	rng    uint64
	kv     *model.KVCache
	filled bool // the first o.Depth tokens are in kv
	table  []int32
	tokens []int32
	pos    []int32
	seq    []int32
	logits []float32
}

func (r *runner) progress(format string, args ...any) {
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, format, args...)
	}
}

// median runs a warm-up and then o.Reps timed repetitions of f.
func (r *runner) median(f func() (time.Duration, error)) (float64, error) {
	if _, err := f(); err != nil {
		return 0, err
	}
	runs := make([]float64, 0, r.o.Reps)
	for range r.o.Reps {
		d, err := f()
		if err != nil {
			return 0, err
		}
		runs = append(runs, d.Seconds())
	}
	slices.Sort(runs)
	return runs[len(runs)/2], nil
}

// decodeBesideBandwidth times the decode test o.Reps times, each right
// after a read-bandwidth probe, and returns the median decode time and the
// bandwidth probed beside that repetition. Memory bandwidth on a shared host
// drifts by tens of percent within a minute, so decode is judged against the
// bandwidth of the same moment, not one taken earlier.
func (r *runner) decodeBesideBandwidth(threads int) (seconds, gbps float64, err error) {
	if _, err := r.decode(); err != nil { // warm-up
		return 0, 0, err
	}
	type pair struct{ seconds, gbps float64 }
	runs := make([]pair, 0, r.o.Reps)
	for range r.o.Reps {
		bw, err := native.ReadBandwidth(r.o.BWBytes, threads, 3)
		if err != nil {
			return 0, 0, fmt.Errorf("read bandwidth: %w", err)
		}
		d, err := r.decode()
		if err != nil {
			return 0, 0, err
		}
		runs = append(runs, pair{d.Seconds(), bw})
	}
	// The median by ratio to the roofline (time × bandwidth grows as the
	// ratio falls), so the reported pair is one that really happened together.
	slices.SortFunc(runs, func(a, b pair) int { return cmp.Compare(a.seconds*a.gbps, b.seconds*b.gbps) })
	mid := runs[len(runs)/2]
	return mid.seconds, mid.gbps, nil
}

// cache makes (once) a K/V cache big enough for the depth and either test,
// with the identity block table, and fills the depth's tokens (in chunks of
// the model's max batch). The tests write past the depth, so every
// repetition finds the same context.
func (r *runner) cache() error {
	if r.kv != nil {
		return r.fillDepth()
	}
	const blockSize = 16
	n := r.o.Depth + max(r.o.Prompt, r.o.Gen)
	nb := (n + blockSize - 1) / blockSize
	kv, err := r.m.NewKVCache(nb, blockSize, r.o.KVType)
	if err != nil {
		return err
	}
	r.kv, r.table = kv, make([]int32, nb)
	for i := range r.table {
		r.table[i] = int32(i)
	}
	r.logits = make([]float32, r.m.Config.NVocab)
	return r.fillDepth()
}

// fillDepth evaluates o.Depth random tokens into the cache once.
func (r *runner) fillDepth() error {
	if r.filled {
		return nil
	}
	for start := 0; start < r.o.Depth; {
		n := min(r.o.Depth-start, r.m.MaxBatchTokens())
		r.randomTokens(n)
		if err := r.forward(start); err != nil {
			return fmt.Errorf("bench model: depth: %w", err)
		}
		start += n
	}
	r.filled = true
	return nil
}

// randomTokens fills r.tokens with n ids drawn from the vocabulary
// (xorshift64*: speed does not depend on which tokens they are).
func (r *runner) randomTokens(n int) {
	r.tokens = r.tokens[:0]
	for range n {
		r.rng ^= r.rng >> 12
		r.rng ^= r.rng << 25
		r.rng ^= r.rng >> 27
		r.tokens = append(r.tokens, int32((r.rng*2685821657736338717)>>33%uint64(r.m.Config.NVocab)))
	}
}

// forward evaluates r.tokens at positions start.. of the one sequence.
func (r *runner) forward(start int) error {
	n := len(r.tokens)
	r.pos, r.seq = r.pos[:0], r.seq[:0]
	for i := range n {
		r.pos = append(r.pos, int32(start+i))
		r.seq = append(r.seq, 0)
	}
	b := &model.Batch{KV: r.kv, Tokens: r.tokens, Pos: r.pos, Seq: r.seq,
		Seqs: []model.SeqState{{BlockTable: r.table, CtxLen: start + n}}}
	return r.m.Forward(b, r.logits)
}

// prefill times one forward pass over o.Prompt tokens after the depth.
func (r *runner) prefill() (time.Duration, error) {
	if err := r.cache(); err != nil {
		return 0, err
	}
	r.randomTokens(r.o.Prompt)
	t0 := r.o.Now()
	if err := r.forward(r.o.Depth); err != nil {
		return 0, fmt.Errorf("bench model: prefill: %w", err)
	}
	return r.o.Now().Sub(t0), nil
}

// decode times o.Gen single-token forward passes after the depth.
func (r *runner) decode() (time.Duration, error) {
	if err := r.cache(); err != nil {
		return 0, err
	}
	r.randomTokens(r.o.Gen)
	all := slices.Clone(r.tokens)
	t0 := r.o.Now()
	for i, t := range all {
		r.tokens = append(r.tokens[:0], t)
		if err := r.forward(r.o.Depth + i); err != nil {
			return 0, fmt.Errorf("bench model: decode at %d: %w", i, err)
		}
	}
	return r.o.Now().Sub(t0), nil
}

package synth

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/quantize"
	"github.com/kiln-llm/kiln/native"
)

// Options says what to synthesize.
type Options struct {
	Preset Preset
	// Type is the type of the 2-D weights: native.F16 or native.Q8_0.
	// 1-D tensors (norms, biases) are always F32.
	Type native.Type
	// Quantize, if set, writes the file llama-quantize's preset would make
	// of the F16 model (Type must be F16): each tensor is generated, rounded
	// to F16 and quantized by the preset's per-tensor rules on the way out,
	// so no F16 file is ever written and the bytes equal quantize.File's
	// output for the F16 file.
	Quantize *quantize.Preset
	Seed     uint64
	// Tokenizer is a GGUF file whose tokenizer.* metadata is copied, or a
	// Hugging Face tokenizer.json (see vocabFromHF); empty means a
	// synthetic byte-level vocabulary (see syntheticVocab).
	Tokenizer string
	// Progress, if set, is called from the writing goroutine after each
	// chunk with the bytes of tensor data written so far and the total.
	Progress func(done, total int64)
}

// tensorSpec is one tensor to generate: ggml shape {cols, rows}, type, and
// how its values are drawn.
type tensorSpec struct {
	name  string
	cols  int
	rows  int // 1 for vectors
	typ   native.Type
	fill  func(r *rng, row []float32, rowIx int)
	fixed []float32 // values of a precomputed 1-D tensor (rope_freqs)
	// experts > 0 writes the rows as a 3-D stack [cols, rows/experts, experts].
	experts int
}

// weightStd is the standard deviation of the random weights, the usual
// initializer scale for these models.
const weightStd = 0.02

func normalFill(r *rng, row []float32, _ int) {
	for i := range row {
		row[i] = weightStd * r.normal()
	}
}

// normFill gives RMSNorm weights near 1, as trained models have.
func normFill(r *rng, row []float32, _ int) {
	for i := range row {
		row[i] = 1 + weightStd*r.normal()
	}
}

// Write synthesizes the model described by o into path.
func Write(path string, o Options) error {
	w, _, err := build(o)
	if err != nil {
		return err
	}
	if err := w.WriteFile(path); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// build assembles a Writer whose tensors are generated on demand while it
// writes, and returns the total bytes of tensor data.
func build(o Options) (*gguf.Writer, int64, error) {
	p := o.Preset
	if o.Type != native.F16 && o.Type != native.Q8_0 {
		return nil, 0, fmt.Errorf("synth: type %v: want f16 or q8_0", o.Type)
	}
	if p.NEmbd <= 0 || p.NHead <= 0 || p.NHeadKV <= 0 || p.NEmbd%p.NHead != 0 || p.NHead%p.NHeadKV != 0 {
		return nil, 0, fmt.Errorf("synth: preset %q has inconsistent heads", p.Name)
	}
	var vocab []entry
	var err error
	if o.Tokenizer != "" {
		var n int
		load := vocabFromGGUF
		if strings.HasSuffix(o.Tokenizer, ".json") {
			load = vocabFromHF
		}
		if vocab, n, err = load(o.Tokenizer); err != nil {
			return nil, 0, err
		}
		p.NVocab = n // the embedding must cover every token id
	} else if vocab, err = syntheticVocab(p.NVocab); err != nil {
		return nil, 0, err
	}
	if o.Quantize != nil && o.Type != native.F16 {
		return nil, 0, fmt.Errorf("synth: quantize preset %s needs type f16 (got %v)", o.Quantize.Name, o.Type)
	}
	fileType := uint32(1) // MOSTLY_F16
	if o.Type == native.Q8_0 {
		fileType = 7 // MOSTLY_Q8_0
	}
	a := p.Arch
	meta := []entry{
		kv("general.architecture", a),
		// The preset goes in its own key: llama.cpp keys tokenizer quirks off
		// general.name (a "phi3" in it demands Phi-3's special tokens).
		kv("general.name", "kiln-synth"),
		kv("kiln.synth.preset", p.Name),
		kv("general.file_type", fileType),
		kv("general.quantization_version", uint32(2)),
		kv(a+".vocab_size", uint32(p.NVocab)),
		kv(a+".context_length", uint32(p.NCtx)),
		kv(a+".embedding_length", uint32(p.NEmbd)),
		kv(a+".block_count", uint32(p.NLayer)),
		kv(a+".feed_forward_length", uint32(p.NFF)),
		kv(a+".attention.head_count", uint32(p.NHead)),
		kv(a+".attention.head_count_kv", uint32(p.NHeadKV)),
		kv(a+".rope.freq_base", p.RopeBase),
		kv(a+".rope.dimension_count", uint32(p.RotaryDims())),
		kv(a+".attention.layer_norm_rms_epsilon", p.RMSEps),
		kv("kiln.synth.seed", o.Seed),
	}
	meta = append(meta, archMeta(p)...)
	w := gguf.NewWriter()
	for _, e := range append(meta, vocab...) {
		if err := w.Set(e.key, e.val); err != nil {
			return nil, 0, fmt.Errorf("synth: %w", err)
		}
	}
	if o.Quantize != nil {
		if err := quantize.SetFileMeta(w, *o.Quantize); err != nil {
			return nil, 0, fmt.Errorf("synth: %w", err)
		}
	}
	ts := specs(p, o.Type)
	infos := make([]gguf.TensorInfo, len(ts))
	for i, t := range ts {
		if native.RowSize(t.typ, t.cols) == 0 {
			return nil, 0, fmt.Errorf("synth: tensor %s: row of %d is invalid for %v", t.name, t.cols, t.typ)
		}
		shape := []int64{int64(t.cols)}
		switch {
		case t.experts > 0:
			shape = append(shape, int64(t.rows/t.experts), int64(t.experts))
		case t.rows > 1 || t.typ != native.F32:
			shape = append(shape, int64(t.rows))
		}
		infos[i] = gguf.TensorInfo{Name: t.name, Type: gguf.TensorType(t.typ), Shape: shape}
	}
	order := make([]int, len(ts))
	targets := make([]native.Type, len(ts))
	for i, t := range ts {
		order[i], targets[i] = i, t.typ
	}
	if o.Quantize != nil {
		sh := quantize.Shape{Arch: a, NLayer: p.NLayer, NHead: p.NHead, NHeadKV: p.NHeadKV}
		if order, targets, err = quantize.Plan(*o.Quantize, sh, infos); err != nil {
			return nil, 0, fmt.Errorf("synth: %w", err)
		}
	}
	prog := &progress{fn: o.Progress}
	for i, idx := range order {
		t, info := ts[idx], infos[idx]
		r := &tensorReader{spec: t, to: targets[i], seed: o.Seed, rowSize: native.RowSize(targets[i], t.cols), prog: prog}
		if err := w.AddTensorReader(t.name, gguf.TensorType(r.to), info.Shape, r); err != nil {
			return nil, 0, fmt.Errorf("synth: %w", err)
		}
		prog.total += int64(r.rowSize) * int64(t.rows)
	}
	return w, prog.total, nil
}

// progress counts tensor bytes produced, for Options.Progress.
type progress struct {
	done, total int64
	fn          func(done, total int64)
}

func (p *progress) add(n int) {
	p.done += int64(n)
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
}

// specs lists the tensors of preset p in llama.cpp's order and naming,
// with 2-D weights of type typ.
func specs(p Preset, typ native.Type) []tensorSpec {
	hd := p.HeadDim()
	q, kvDim := p.NHead*hd, p.NHeadKV*hd
	mat := func(name string, cols, rows int) tensorSpec {
		return tensorSpec{name: name, cols: cols, rows: rows, typ: typ, fill: normalFill}
	}
	vec := func(name string, n int, fill func(*rng, []float32, int)) tensorSpec {
		return tensorSpec{name: name, cols: n, rows: 1, typ: native.F32, fill: fill}
	}
	qk := func(name string, cols, rows int) tensorSpec {
		t := mat(name, cols, rows)
		if p.QKStd > 0 {
			t.fill = scaledFill(p.QKStd)
		}
		return t
	}
	out := []tensorSpec{mat("token_embd.weight", p.NEmbd, p.NVocab)}
	if p.Llama3RoPE {
		out = append(out, tensorSpec{name: "rope_freqs.weight", cols: hd / 2, rows: 1, typ: native.F32, fixed: llama3RoPEFactors(hd, p.RopeBase)})
	}
	if p.LongRoPEOrigCtx > 0 {
		long, short := longRoPEFactors(p.RotaryDims() / 2)
		out = append(out, tensorSpec{name: "rope_factors_long.weight", cols: len(long), rows: 1, typ: native.F32, fixed: long},
			tensorSpec{name: "rope_factors_short.weight", cols: len(short), rows: 1, typ: native.F32, fixed: short})
	}
	for i := range p.NLayer {
		b := func(s string) string { return fmt.Sprintf("blk.%d.%s", i, s) }
		out = append(out, vec(b("attn_norm.weight"), p.NEmbd, normFill))
		if p.Fused {
			// Q rows drawn like Q, K and V rows like K: the fill sees the row index.
			out = append(out, tensorSpec{name: b("attn_qkv.weight"), cols: p.NEmbd, rows: q + 2*kvDim, typ: typ, fill: qkvFill(p, q, kvDim)})
		} else {
			out = append(out, qk(b("attn_q.weight"), p.NEmbd, q),
				qk(b("attn_k.weight"), p.NEmbd, kvDim),
				mat(b("attn_v.weight"), p.NEmbd, kvDim))
		}
		if p.QKVBias {
			out = append(out, vec(b("attn_q.bias"), q, normalFill),
				vec(b("attn_k.bias"), kvDim, normalFill),
				vec(b("attn_v.bias"), kvDim, normalFill))
		}
		if p.QKNorm {
			out = append(out, vec(b("attn_q_norm.weight"), hd, normFill), vec(b("attn_k_norm.weight"), hd, normFill))
		}
		out = append(out, mat(b("attn_output.weight"), q, p.NEmbd))
		if p.PostNorms {
			out = append(out, vec(b("post_attention_norm.weight"), p.NEmbd, normFill))
		}
		out = append(out, vec(b("ffn_norm.weight"), p.NEmbd, normFill))
		if p.NExpert > 0 {
			stack := func(name string, cols, rows int) tensorSpec {
				t := mat(name, cols, rows*p.NExpert)
				t.experts = p.NExpert
				return t
			}
			router := mat(b("ffn_gate_inp.weight"), p.NEmbd, p.NExpert)
			router.fill = scaledFill(routerStd)
			out = append(out, router, stack(b("ffn_gate_exps.weight"), p.NEmbd, p.NFFExp),
				stack(b("ffn_up_exps.weight"), p.NEmbd, p.NFFExp), stack(b("ffn_down_exps.weight"), p.NFFExp, p.NEmbd))
			if p.NFFShexp > 0 {
				out = append(out, vec(b("ffn_gate_inp_shexp.weight"), p.NEmbd, scaledFill(routerStd)),
					mat(b("ffn_gate_shexp.weight"), p.NEmbd, p.NFFShexp), mat(b("ffn_up_shexp.weight"), p.NEmbd, p.NFFShexp),
					mat(b("ffn_down_shexp.weight"), p.NFFShexp, p.NEmbd))
			}
		} else if p.Fused {
			out = append(out, mat(b("ffn_up.weight"), p.NEmbd, 2*p.NFF))
		} else {
			out = append(out, mat(b("ffn_gate.weight"), p.NEmbd, p.NFF), mat(b("ffn_up.weight"), p.NEmbd, p.NFF))
		}
		if p.NExpert == 0 {
			out = append(out, mat(b("ffn_down.weight"), p.NFF, p.NEmbd))
		}
		if p.PostNorms {
			out = append(out, vec(b("post_ffw_norm.weight"), p.NEmbd, normFill))
		}
	}
	out = append(out, vec("output_norm.weight", p.NEmbd, normFill))
	if !p.Tied {
		out = append(out, mat("output.weight", p.NEmbd, p.NVocab))
	}
	return out
}

// llama3RoPEFactors computes rope_freqs.weight as llama.cpp's converter does
// for Llama 3.1/3.2 rope scaling (factor 32, low/high frequency factors 1
// and 4, original context 8192).
func llama3RoPEFactors(headDim int, base float32) []float32 {
	const factor, lowFF, highFF, origCtx = 32.0, 1.0, 4.0, 8192.0
	lowWav, highWav := origCtx/lowFF, origCtx/highFF
	out := make([]float32, headDim/2)
	for i := range out {
		freq := 1 / math.Pow(float64(base), float64(2*i)/float64(headDim))
		wav := 2 * math.Pi / freq
		switch {
		case wav < highWav:
			out[i] = 1
		case wav > lowWav:
			out[i] = factor
		default:
			smooth := (origCtx/wav - lowFF) / (highFF - lowFF)
			out[i] = float32(1 / ((1-smooth)/factor + smooth))
		}
	}
	return out
}

// tensorReader produces one tensor's bytes on demand, a chunk of rows at a
// time, generating the rows of a chunk in parallel across cores (and
// quantizing them with native.Quantize, which splits rows over the kernel
// pool; rows are independent, so the bytes do not depend on the split).
// Memory is bounded by one chunk whatever the tensor's size.
type tensorReader struct {
	spec tensorSpec
	// to is the type written: spec.typ, or a quantization target, reached
	// through spec.typ's values (F16 rounding) as quantize.File reaches it.
	to      native.Type
	seed    uint64
	rowSize int
	prog    *progress
	next    int    // first row not yet generated
	buf     []byte // generated bytes not yet read
	err     error
}

// chunkBytes is roughly how much one chunk holds.
const chunkBytes = 4 << 20

func (r *tensorReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(r.buf) == 0 {
		if r.next >= r.spec.rows {
			return 0, io.EOF
		}
		if r.err = r.fillChunk(); r.err != nil {
			return 0, r.err
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	r.prog.add(n)
	return n, nil
}

func (r *tensorReader) fillChunk() error {
	t := r.spec
	quant := r.to != t.typ
	rows := max(1, chunkBytes/r.rowSize)
	rows = min(rows, t.rows-r.next)
	out := make([]byte, rows*r.rowSize)
	var vals []float32 // the chunk's values as t.typ holds them, to quantize
	if quant {
		vals = make([]float32, rows*t.cols)
	}
	workers := min(runtime.GOMAXPROCS(0), rows)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f32 := make([]float32, t.cols)
			u16 := make([]uint16, t.cols)
			for i := wk; i < rows; i += workers {
				row := r.next + i
				if t.fixed != nil {
					copy(f32, t.fixed)
				} else {
					t.fill(newRNG(r.seed, t.name, row), f32, row)
				}
				var err error
				if quant {
					// rounded to F16 and back, as quantize.File reads the F16 file
					// (specs gives every quantized tensor F16 when Quantize is set)
					if err = native.F32ToF16(f32, u16); err == nil {
						err = native.F16ToF32(u16, vals[i*t.cols:(i+1)*t.cols])
					}
				} else {
					err = encodeRow(t.typ, f32, u16, out[i*r.rowSize:(i+1)*r.rowSize])
				}
				if err != nil {
					errs[wk] = fmt.Errorf("synth: tensor %s row %d: %w", t.name, row, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if quant {
		if err := native.Quantize(r.to, vals, out, rows, t.cols); err != nil {
			return fmt.Errorf("synth: tensor %s: %w", t.name, err)
		}
	}
	r.next += rows
	r.buf = out
	return nil
}

// encodeRow stores one row of values as typ into dst (exactly one row).
func encodeRow(typ native.Type, x []float32, u16 []uint16, dst []byte) error {
	switch typ {
	case native.F32:
		for i, v := range x {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
		return nil
	case native.F16:
		if err := native.F32ToF16(x, u16); err != nil {
			return err
		}
		for i, v := range u16 {
			binary.LittleEndian.PutUint16(dst[2*i:], v)
		}
		return nil
	case native.Q8_0:
		return native.QuantizeQ8_0(x, dst)
	}
	return fmt.Errorf("unsupported type %v", typ)
}

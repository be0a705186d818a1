package model

import "github.com/kiln-llm/kiln/native"

// The llama family's tensor table. Each weight field carries its GGUF name
// (`gguf:"name"`, "%d" standing for the layer index; ",optional" when a file
// may lack it; ",arch" when only architectures that require or allow it may
// have it, so e.g. a llama file with Q/K norms is refused, not half-run)
// and its shape in [rows, cols] (or [n]) over the dimension
// names of Config.dims (`shape:"q,embd"`). Matrix fields accept the matmul
// types (F32, F16, BF16, Q8_0 and the quantized types of native.Types),
// []float32 fields F32 only. bindWeights reads
// the table by reflection: an architecture is this table plus the hooks of
// its archSpec (arch.go), and a new tensor is one tagged field.

// Matrix is a 2-D weight used in place from the mmap: Rows rows of Cols
// elements of Type in GGUF's layout, so native.MatMul can read it directly.
type Matrix struct {
	Name string
	Type native.Type // F32, F16, BF16, Q8_0 or a quantized type (native.Types)
	Rows int         // output features (n)
	Cols int         // input features (k), contiguous
	Data []byte      // Rows*RowSize(Type, Cols) bytes, read-only (mmap)
	// Packed is Data repacked at load into PackedType (WithRepack), or nil:
	// what every matmul then reads (Data's pages are released; see WithRepack).
	Packed     []byte
	PackedType native.Type
}

// operand is the form of w a matmul reads: the repacked copy if there is
// one, else the file's bytes. Both give the same result bits.
func (w Matrix) operand() (native.Type, []byte) {
	if w.Packed != nil {
		return w.PackedType, w.Packed
	}
	return w.Type, w.Data
}

// Layer holds one transformer block's weights. Q, K, V and Gate are
// required unless the architecture is fused (phi3): then the file has QKV
// and a [2*ff]-row FusedUp instead, which the binder splits into row views
// of Q, K, V, Gate and Up, so the forward pass sees one shape.
type Layer struct {
	AttnNorm []float32 `gguf:"blk.%d.attn_norm.weight" shape:"embd"`
	Q        Matrix    `gguf:"blk.%d.attn_q.weight,optional" shape:"q,embd"`
	K        Matrix    `gguf:"blk.%d.attn_k.weight,optional" shape:"kv,embd"`
	V        Matrix    `gguf:"blk.%d.attn_v.weight,optional" shape:"kv,embd"`
	QKV      Matrix    `gguf:"blk.%d.attn_qkv.weight,optional" shape:"qkv,embd"` // fused archs only
	QBias    []float32 `gguf:"blk.%d.attn_q.bias,optional" shape:"q"`            // qwen2 requires them
	KBias    []float32 `gguf:"blk.%d.attn_k.bias,optional" shape:"kv"`           // (llama files may have them)
	VBias    []float32 `gguf:"blk.%d.attn_v.bias,optional" shape:"kv"`
	QNorm    []float32 `gguf:"blk.%d.attn_q_norm.weight,arch" shape:"head"` // per-head RMSNorm of Q, K (qwen3, gemma3)
	KNorm    []float32 `gguf:"blk.%d.attn_k_norm.weight,arch" shape:"head"`
	O        Matrix    `gguf:"blk.%d.attn_output.weight" shape:"embd,q"`
	// AttnPostNorm and FFNPostNorm norm each sub-block's output before the
	// residual add (gemma2/3).
	AttnPostNorm []float32 `gguf:"blk.%d.post_attention_norm.weight,arch" shape:"embd"`
	FFNNorm      []float32 `gguf:"blk.%d.ffn_norm.weight" shape:"embd"`
	Gate         Matrix    `gguf:"blk.%d.ffn_gate.weight,optional" shape:"ff,embd"`
	Up           Matrix    `gguf:"blk.%d.ffn_up.weight,optional" shape:"ff,embd"`
	FusedUp      Matrix    `gguf:"blk.%d.ffn_up.weight,optional" shape:"ff2,embd"` // fused archs: gate rows, then up rows
	Down         Matrix    `gguf:"blk.%d.ffn_down.weight,optional" shape:"embd,ff"`
	FFNPostNorm  []float32 `gguf:"blk.%d.post_ffw_norm.weight,arch" shape:"embd"`
	// A mixture-of-experts FFN (Config.NExpert > 0) replaces Gate, Up and
	// Down: the router, then each expert's matrices stacked (GGUF's 3-D
	// [embd, ffexp, expert] tensors, bound as expert*ffexp rows; Expert
	// slices one out as a view).
	GateInp  Matrix `gguf:"blk.%d.ffn_gate_inp.weight,arch" shape:"expert,embd"`
	GateExps Matrix `gguf:"blk.%d.ffn_gate_exps.weight,arch" shape:"expert,ffexp,embd"`
	UpExps   Matrix `gguf:"blk.%d.ffn_up_exps.weight,arch" shape:"expert,ffexp,embd"`
	DownExps Matrix `gguf:"blk.%d.ffn_down_exps.weight,arch" shape:"expert,embd,ffexp"`
	// A shared expert every token also runs (qwen2moe), scaled by
	// sigmoid(GateInpShexp · x).
	GateInpShexp Matrix `gguf:"blk.%d.ffn_gate_inp_shexp.weight,arch" shape:"embd"`
	GateShexp    Matrix `gguf:"blk.%d.ffn_gate_shexp.weight,arch" shape:"ffshexp,embd"`
	UpShexp      Matrix `gguf:"blk.%d.ffn_up_shexp.weight,arch" shape:"ffshexp,embd"`
	DownShexp    Matrix `gguf:"blk.%d.ffn_down_shexp.weight,arch" shape:"embd,ffshexp"`
}

// Weights are all of a model's tensors, bound as zero-copy views of the
// GGUF mapping (valid until Model.Close). The vocabulary size is learned
// from token_embd's rows.
type Weights struct {
	TokEmbd Matrix    `gguf:"token_embd.weight" shape:"vocab,embd"`
	OutNorm []float32 `gguf:"output_norm.weight" shape:"embd"`
	// Output is token_embd when the file ties the embeddings (no output.weight).
	Output Matrix `gguf:"output.weight,optional" shape:"vocab,embd"`
	// RoPEFreqs are Llama 3's frequency divisors, or nil. For phi3 the
	// binder points it at RoPELong or RoPEShort (LongRoPE).
	RoPEFreqs []float32 `gguf:"rope_freqs.weight,optional" shape:"rope_pairs"`
	RoPELong  []float32 `gguf:"rope_factors_long.weight,arch" shape:"rope_pairs"`
	RoPEShort []float32 `gguf:"rope_factors_short.weight,arch" shape:"rope_pairs"`
	Layers    []Layer   // one per block_count, bound from Layer's table
}

package model

import "github.com/kiln-llm/kiln/native"

// The llama family's tensor table. Each weight field carries its GGUF name
// (`gguf:"name"`, "%d" standing for the layer index; ",optional" when a file
// may lack it) and its shape in [rows, cols] (or [n]) over the dimension
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
}

// Layer holds one transformer block's weights.
type Layer struct {
	AttnNorm []float32 `gguf:"blk.%d.attn_norm.weight" shape:"embd"`
	Q        Matrix    `gguf:"blk.%d.attn_q.weight" shape:"q,embd"`
	K        Matrix    `gguf:"blk.%d.attn_k.weight" shape:"kv,embd"`
	V        Matrix    `gguf:"blk.%d.attn_v.weight" shape:"kv,embd"`
	QBias    []float32 `gguf:"blk.%d.attn_q.bias,optional" shape:"q"`  // qwen2 requires them
	KBias    []float32 `gguf:"blk.%d.attn_k.bias,optional" shape:"kv"` // (llama files may have them)
	VBias    []float32 `gguf:"blk.%d.attn_v.bias,optional" shape:"kv"`
	O        Matrix    `gguf:"blk.%d.attn_output.weight" shape:"embd,q"`
	FFNNorm  []float32 `gguf:"blk.%d.ffn_norm.weight" shape:"embd"`
	Gate     Matrix    `gguf:"blk.%d.ffn_gate.weight" shape:"ff,embd"`
	Up       Matrix    `gguf:"blk.%d.ffn_up.weight" shape:"ff,embd"`
	Down     Matrix    `gguf:"blk.%d.ffn_down.weight" shape:"embd,ff"`
}

// Weights are all of a model's tensors, bound as zero-copy views of the
// GGUF mapping (valid until Model.Close). The vocabulary size is learned
// from token_embd's rows.
type Weights struct {
	TokEmbd Matrix    `gguf:"token_embd.weight" shape:"vocab,embd"`
	OutNorm []float32 `gguf:"output_norm.weight" shape:"embd"`
	// Output is token_embd when the file ties the embeddings (no output.weight).
	Output Matrix `gguf:"output.weight,optional" shape:"vocab,embd"`
	// RoPEFreqs are Llama 3's frequency divisors, or nil.
	RoPEFreqs []float32 `gguf:"rope_freqs.weight,optional" shape:"rope_pairs"`
	Layers    []Layer   // one per block_count, bound from Layer's table
}

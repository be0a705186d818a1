// Package model is kiln's llama-family forward pass (llama, mistral-style
// llama files, qwen2). Load reads the hyperparameters from a GGUF file and
// binds the weights in place from its mmap (F32, F16, BF16, Q8_0 and GGUF's
// quantized types Q4_0 … Q6_K, IQ4_NL, IQ4_XS — what a Q4_K_M file holds — no copy;
// except that by default the Q8_0 projections and output head are repacked
// once into the layout the CPU's GEMV streams fastest, see WithRepack);
// Forward evaluates one flattened batch of tokens from many sequences over a
// paged KV cache (KVCache) with one native kernel call per operation;
// Executor runs the scheduler's steps (engine/batch) on it; Session is a
// single sequence, for the CLI, embeddings and tests.
//
// The weights are one table: the tagged fields of Weights and Layer
// (weights.go) name each tensor and its shape over Config's dimensions, and
// an architecture (arch.go) is an archSpec over that table: RoPE pairing,
// the optional tensors it requires, a metadata hook. Load refuses, naming
// the tensor, its type and shape, anything the forward pass could not serve:
// a tensor missing, mistyped, misshapen, stored in more or fewer bytes than
// its type and shape take, or not in the table at all; and a path that is
// not a regular file, without blocking on it.
//
// Numerics follow ggml so that results land on llama.cpp's: Q8_0 and the
// 32-element types' matmuls quantize their activations to Q8_0, the K-quants'
// and IQ4_XS's to Q8_K, F16/BF16 matmuls round them to the
// weight type (WithExactActivations turns that off), and an F32 KV cache
// reproduces llama.cpp's F32-K/V logits to float32 rounding.
package model

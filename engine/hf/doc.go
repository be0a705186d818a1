// Package hf reads Hugging Face model directories (config.json, sharded
// *.safetensors in F32/F16/BF16, a BPE tokenizer.json, tokenizer_config.json,
// generation_config.json) in llama.cpp's GGUF terms for the architectures
// engine/model runs: Llama/Mistral/Mixtral, Qwen2, Qwen3, Qwen3-MoE, Gemma2,
// Gemma3 (text) and Phi3. Open maps the shards and hands engine/model views
// of the matrices in place (model.Source); Convert writes a GGUF, streaming
// the matrices from the shards. Either way only llama's permuted Q/K, the
// 1-D tensors (as F32) and MoE expert stacks are made in memory.
package hf

// Package hf reads Hugging Face model directories (config.json, sharded
// *.safetensors in F32/F16/BF16, a BPE tokenizer.json, tokenizer_config.json,
// generation_config.json) and converts them to GGUF with llama.cpp's layout
// for the architectures engine/model runs: Llama/Mistral/Mixtral, Qwen2,
// Qwen3, Qwen3-MoE, Gemma2, Gemma3 (text) and Phi3. Matrices stream from
// the shards to the output (experts stacked on the way); only llama's
// permuted Q/K and the 1-D tensors pass through memory.
package hf

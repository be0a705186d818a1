// Package hf reads Hugging Face model directories (config.json, sharded
// *.safetensors, tokenizer.json, tokenizer_config.json,
// generation_config.json) and converts them to GGUF with llama.cpp's
// layout, for the architectures engine/model runs.
package hf

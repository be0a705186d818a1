// Package convert rewrites model files: Llama2C turns a llama2.c checkpoint
// and tokenizer into a GGUF with llama.cpp's layout and metadata.
// (Quantizing a GGUF is engine/quantize's.)
package convert

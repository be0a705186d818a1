// Package convert rewrites model files: Quantize converts a GGUF's weight
// matrices to Q8_0, and Llama2C turns a llama2.c checkpoint and tokenizer
// into a GGUF with llama.cpp's layout and metadata.
package convert

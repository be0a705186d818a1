// Package gguf reads and writes GGUF files, the container llama.cpp uses for
// model weights and their metadata.
//
// Reading is zero-copy: Open maps the file read-only and TensorData returns
// slices into the mapping, so the engine uses quantized weights in place.
// Every length, count and offset read from the file is checked against the
// bytes that remain before it is used, so a truncated, corrupt or hostile file
// yields an error (a *FormatError wrapping ErrFormat), never a panic and
// never an allocation larger than the file could justify.
//
// Supported versions are 2 and 3 (little-endian). Version 1 (32-bit counts)
// and big-endian files are rejected with a clear error. The Writer always
// produces version 3 with llama.cpp's layout (each tensor's data padded to
// the alignment), so rewriting a file made by llama.cpp or gguf-py gives the
// same bytes.
//
// Layout of a GGUF file, all integers little-endian:
//
//	magic "GGUF" | version u32 | n_tensors u64 | n_kv u64
//	n_kv × { key string | value_type u32 | value }
//	n_tensors × { name string | n_dims u32 | ne u64[n_dims] | ggml_type u32 | offset u64 }
//	padding to general.alignment (default 32)
//	tensor data; each tensor at data_start + offset, offset a multiple of the alignment
//
// where string = { len u64 | bytes } and an array value is
// { elem_type u32 | count u64 | count × elem }.
package gguf

// Package synth writes deterministic random-weight GGUF models at the shapes
// of real llama-family models, so performance work needs no downloads:
// speed does not depend on the weights' values. Same preset, type and seed
// give a byte-identical file.
//
// A quantize preset (Options.Quantize: q4_k_m, iq4_xs, ...) is written
// directly: each tensor is generated, rounded through F16 and quantized by
// engine/quantize's per-tensor rules (quantize.Plan) while the file streams
// out, giving the bytes quantize.File makes of the F16 model without ever
// writing it. Memory is bounded by one chunk of rows (a few tens of MB), so
// qwen3-30b-a3b at q4_k_m (18.5 GB, whose F16 form would be 61 GB) is made
// with a peak RSS of about 0.5 GB.
package synth

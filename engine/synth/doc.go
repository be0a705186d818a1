// Package synth writes deterministic random-weight GGUF models at the shapes
// of real llama-family models, so performance work needs no downloads:
// speed does not depend on the weights' values. Same preset, type and seed
// give a byte-identical file.
package synth

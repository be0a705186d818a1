package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/native"
)

// archSpec is one supported architecture: what it adds to the llama
// family's shared tensor table (weights.go) and hyperparameters
// (readConfig). A new llama-like architecture is an entry here; one with
// tensors of its own adds tagged fields to the table (optional there,
// required here) and the forward pass's use of them.
type archSpec struct {
	// ropeMode is how RoPE pairs the dimensions of a head.
	ropeMode native.RoPEMode
	// require names tensors the table marks optional (by their table name,
	// "blk.%d." included) that this architecture must have.
	require []string
	// configure reads what the architecture adds to the shared
	// hyperparameters (nil: nothing).
	configure func(f *gguf.File, c *Config) error
}

// architectures are the supported architectures by general.architecture.
func architectures() map[string]archSpec {
	return map[string]archSpec{
		"llama": {ropeMode: native.RoPENormal},
		"qwen2": {
			ropeMode: native.RoPENeoX,
			require:  []string{"blk.%d.attn_q.bias", "blk.%d.attn_k.bias", "blk.%d.attn_v.bias"},
			configure: func(_ *gguf.File, c *Config) error {
				c.HasBiases = true
				return nil
			},
		},
	}
}

// lookupArch returns the spec of arch or an error listing the supported ones.
func lookupArch(arch string) (archSpec, error) {
	all := architectures()
	if a, ok := all[arch]; ok {
		return a, nil
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	slices.Sort(names)
	return archSpec{}, fmt.Errorf("unsupported architecture %q (want %s)", arch, strings.Join(names, " or "))
}

package quantize

import (
	"fmt"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/native"
)

// Shape is what the type rules need to know about a model besides its
// tensors: its architecture, block count and attention heads.
type Shape struct {
	Arch           string
	NLayer         int
	NHead, NHeadKV int
}

// Plan is the per-tensor entry point of File for writers that produce
// tensors themselves (kiln synth): it returns the order the tensors are
// written in (indices into tensors, llama.cpp's loader order) and each
// tensor's target type in that order, chosen by preset p's rules exactly
// as File chooses them. A tensor whose target equals its own type is
// copied as it is; any other must be F32, F16 or BF16.
func Plan(p Preset, s Shape, tensors []gguf.TensorInfo) (order []int, types []native.Type, err error) {
	is70B := s.Arch == "llama" && s.NLayer == 80 && s.NHeadKV != 0 && s.NHead != s.NHeadKV
	order = tensorOrder(tensors)
	infos := make([]gguf.TensorInfo, len(order))
	for i, idx := range order {
		infos[i] = tensors[idx]
	}
	gqa := 1
	if s.NHeadKV != 0 {
		gqa = s.NHead / s.NHeadKV
	}
	sel := newSelector(p, infos, s.NLayer, gqa, is70B)
	types = make([]native.Type, len(infos))
	for i, t := range infos {
		if types[i], err = sel.typeFor(t); err != nil {
			return nil, nil, fmt.Errorf("tensor %s: %w", t.Name, err)
		}
		from := native.Type(t.Type)
		if types[i] != from && from != native.F32 && from != native.F16 && from != native.BF16 {
			return nil, nil, fmt.Errorf("tensor %s: requantizing from type %v is refused (give an F32, F16 or BF16 file)", t.Name, t.Type)
		}
	}
	return order, types, nil
}

// SetFileMeta sets the metadata a quantized file ends with, as
// llama-quantize's gguf_set_val does (it removes a key and appends it):
// general.quantization_version then general.file_type, last and in this
// order, with any split.* keys removed.
func SetFileMeta(w *gguf.Writer, p Preset) error {
	for _, kv := range []struct {
		key string
		v   uint32
	}{{"general.quantization_version", 2}, {"general.file_type", p.FileType}} {
		w.Delete(kv.key)
		if err := w.Set(kv.key, kv.v); err != nil {
			return err
		}
	}
	for _, k := range []string{"split.no", "split.count", "split.tensors.count"} {
		w.Delete(k)
	}
	return nil
}

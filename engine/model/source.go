package model

import (
	"fmt"

	"github.com/kiln-llm/kiln/engine/gguf"
)

// Source is where a model's metadata and tensors come from: a GGUF file
// (Load), or a Hugging Face directory mapped in place (engine/hf.Open). The
// tensor methods are gguf.File's, so the binder treats both alike: names,
// types and shapes in GGUF's terms, data as views that stay valid until
// Close.
type Source interface {
	// Meta holds the metadata: hyperparameters under general.architecture,
	// tokenizer.*, the chat template.
	Meta() *gguf.File
	Tensor(name string) (gguf.TensorInfo, bool)
	TensorData(name string) ([]byte, error)
	// TensorExtent is the bytes the source holds for the tensor (at least
	// its Size, at most Size padded to Alignment).
	TensorExtent(name string) (int64, bool)
	Alignment() int64
	Tensors() []gguf.TensorInfo
	NumTensors() int
	Close() error
}

// fileSource is a GGUF file as a Source.
type fileSource struct{ *gguf.File }

func (s fileSource) Meta() *gguf.File { return s.File }

var _ Source = fileSource{}

// LoadSource builds a model over src, which it owns from then on: Close
// closes it, and so does a failed load.
func LoadSource(src Source, opts ...Option) (*Model, error) {
	o, err := applyOptions(opts)
	if err != nil {
		_ = src.Close()
		return nil, err
	}
	m, err := fromSource(src, o)
	if err != nil {
		_ = src.Close()
		return nil, fmt.Errorf("model: %w", err)
	}
	return m, nil
}

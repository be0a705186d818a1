package hf

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/model"
)

// source is a Hugging Face directory as a model.Source: GGUF metadata made
// in memory, and tensors that are views of the mapped shards wherever the
// bytes are already what GGUF would hold (the F32/F16/BF16 matrices),
// computed in memory otherwise (1-D tensors as F32, llama's permuted Q/K,
// expert stacks, LongRoPE/Llama 3 factors).
type source struct {
	meta  *gguf.File
	infos []gguf.TensorInfo
	index map[string]int
	data  [][]byte
	ws    *weights
	unmap []func() error
}

var _ model.Source = (*source)(nil)

// Open maps the Hugging Face model directory dir for model.LoadSource.
func Open(dir string) (model.Source, error) {
	c, arch, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	ws, err := openTextWeights(dir, c)
	if err != nil {
		return nil, err
	}
	s := &source{ws: ws, index: map[string]int{}}
	if err := s.fill(dir, c, arch); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func (s *source) fill(dir string, c *config, arch string) error {
	w, err := metaWriter(dir, c, arch, s.ws)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return fmt.Errorf("hf: metadata: %w", err)
	}
	if s.meta, err = gguf.OpenBytes(buf.Bytes()); err != nil {
		return fmt.Errorf("hf: metadata: %w", err)
	}
	maps := map[*tensor][]byte{} // shard mapping of each file, by a tensor of it
	mapped := func(t *tensor) ([]byte, error) {
		for k, m := range maps {
			if k.file == t.file {
				return m, nil
			}
		}
		st, err := t.file.Stat()
		if err != nil {
			return nil, fmt.Errorf("hf: %w", err)
		}
		m, unmap, err := mapFile(t.file, st.Size())
		if err != nil {
			return nil, fmt.Errorf("hf: map %s: %w", t.file.Name(), err)
		}
		s.unmap = append(s.unmap, unmap)
		maps[t] = m
		return m, nil
	}
	ps, err := plan(c, arch, s.ws)
	if err != nil {
		return err
	}
	for _, p := range ps {
		data := p.data
		switch {
		case p.src != nil:
			m, err := mapped(p.src)
			if err != nil {
				return err
			}
			data = m[p.src.off : p.src.off+p.src.size : p.src.off+p.src.size]
		case p.stack != nil: // experts are separate tensors: gathered into one stack
			for _, t := range p.stack {
				b, err := t.read()
				if err != nil {
					return err
				}
				data = append(data, b...)
			}
		}
		if _, dup := s.index[p.name]; dup {
			return fmt.Errorf("hf: two tensors map to %s", p.name)
		}
		s.index[p.name] = len(s.infos)
		s.infos = append(s.infos, gguf.TensorInfo{Name: p.name, Shape: p.ne, Type: p.typ, Size: int64(len(data))})
		s.data = append(s.data, data)
	}
	return nil
}

func (s *source) Meta() *gguf.File { return s.meta }

func (s *source) Tensor(name string) (gguf.TensorInfo, bool) {
	i, ok := s.index[name]
	if !ok {
		return gguf.TensorInfo{}, false
	}
	return s.infos[i], true
}

func (s *source) TensorData(name string) ([]byte, error) {
	i, ok := s.index[name]
	if !ok {
		return nil, fmt.Errorf("hf: no tensor %s", name)
	}
	return s.data[i], nil
}

func (s *source) TensorExtent(name string) (int64, bool) {
	i, ok := s.index[name]
	if !ok {
		return 0, false
	}
	return int64(len(s.data[i])), true
}

func (s *source) Alignment() int64 { return 1 }

func (s *source) Tensors() []gguf.TensorInfo { return append([]gguf.TensorInfo(nil), s.infos...) }

func (s *source) NumTensors() int { return len(s.infos) }

// Close unmaps the shards and closes them; the tensors' views die with it.
func (s *source) Close() error {
	var errs []error
	for _, u := range s.unmap {
		errs = append(errs, u())
	}
	s.unmap, s.data = nil, nil
	if s.meta != nil {
		errs = append(errs, s.meta.Close())
	}
	errs = append(errs, s.ws.Close())
	return errors.Join(errs...)
}

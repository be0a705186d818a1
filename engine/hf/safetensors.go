package hf

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// tensor is one tensor of a safetensors file: where its bytes are and what
// they hold.
type tensor struct {
	Name  string
	DType string  // "F32", "F16" or "BF16"
	Shape []int64 // row-major, outermost first (PyTorch order)
	file  *os.File
	off   int64 // absolute offset of the data in file
	size  int64
}

// elemSize is the bytes of one element of the dtypes we read.
func elemSize(dtype string) int64 {
	switch dtype {
	case "F32":
		return 4
	case "F16", "BF16":
		return 2
	}
	return 0
}

// read returns the tensor's bytes.
func (t *tensor) read() ([]byte, error) {
	b := make([]byte, t.size)
	if _, err := t.file.ReadAt(b, t.off); err != nil {
		return nil, fmt.Errorf("hf: tensor %s: %w", t.Name, err)
	}
	return b, nil
}

// maxHeader bounds a safetensors JSON header (the format's own limit is 100 MB).
const maxHeader = 100 << 20

// openSafetensors parses the header of one .safetensors file and checks
// every tensor's extent against the file and its dtype and shape.
func openSafetensors(path string) (*os.File, []*tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("hf: %w", err)
	}
	ts, err := parseHeader(f, path)
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, ts, nil
}

func parseHeader(f *os.File, path string) ([]*tensor, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, 8), lenBuf[:]); err != nil {
		return nil, fmt.Errorf("hf: %s: short header: %w", path, err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > maxHeader || int64(hlen)+8 > st.Size() {
		return nil, fmt.Errorf("hf: %s: header length %d does not fit the file (%d bytes)", path, hlen, st.Size())
	}
	raw := make([]byte, hlen)
	if _, err := f.ReadAt(raw, 8); err != nil {
		return nil, fmt.Errorf("hf: %s: %w", path, err)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return nil, fmt.Errorf("hf: %s: header: %w", path, err)
	}
	base := 8 + int64(hlen)
	var out []*tensor
	for name, v := range hdr {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			DType   string   `json:"dtype"`
			Shape   []int64  `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("hf: %s: tensor %s: %w", path, name, err)
		}
		es := elemSize(e.DType)
		if es == 0 {
			return nil, fmt.Errorf("hf: %s: tensor %s: dtype %s (want F32, F16 or BF16)", path, name, e.DType)
		}
		n := int64(1)
		for _, d := range e.Shape {
			if d <= 0 || n > (1<<50)/d {
				return nil, fmt.Errorf("hf: %s: tensor %s: bad shape %v", path, name, e.Shape)
			}
			n *= d
		}
		b, end := e.Offsets[0], e.Offsets[1]
		if b < 0 || end-b != n*es || base+end > st.Size() {
			return nil, fmt.Errorf("hf: %s: tensor %s: data_offsets %v do not hold %v %s in a %d-byte file",
				path, name, e.Offsets, e.Shape, e.DType, st.Size())
		}
		out = append(out, &tensor{Name: name, DType: e.DType, Shape: e.Shape, file: f, off: base + b, size: n * es})
	}
	slices.SortFunc(out, func(a, b *tensor) int { return cmpStr(a.Name, b.Name) })
	return out, nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// weights are the tensors of a model directory: model.safetensors, or the
// shards model.safetensors.index.json names.
type weights struct {
	files   []*os.File
	tensors map[string]*tensor
}

func (w *weights) Close() error {
	var errs []error
	for _, f := range w.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

func openWeights(dir string) (*weights, error) {
	var shards []string
	idx, err := os.ReadFile(filepath.Join(dir, "model.safetensors.index.json"))
	switch {
	case err == nil:
		var ix struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(idx, &ix); err != nil {
			return nil, fmt.Errorf("hf: model.safetensors.index.json: %w", err)
		}
		for _, s := range ix.WeightMap {
			if filepath.Base(s) != s {
				return nil, fmt.Errorf("hf: index names shard %q outside the directory", s)
			}
			if !slices.Contains(shards, s) {
				shards = append(shards, s)
			}
		}
		slices.Sort(shards)
	case errors.Is(err, os.ErrNotExist):
		shards = []string{"model.safetensors"}
	default:
		return nil, fmt.Errorf("hf: %w", err)
	}
	w := &weights{tensors: map[string]*tensor{}}
	for _, s := range shards {
		f, ts, err := openSafetensors(filepath.Join(dir, s))
		if err != nil {
			_ = w.Close()
			return nil, err
		}
		w.files = append(w.files, f)
		for _, t := range ts {
			if _, dup := w.tensors[t.Name]; dup {
				_ = w.Close()
				return nil, fmt.Errorf("hf: tensor %s appears in two shards", t.Name)
			}
			w.tensors[t.Name] = t
		}
	}
	return w, nil
}

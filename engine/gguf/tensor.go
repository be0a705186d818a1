package gguf

import (
	"fmt"
	"slices"
)

// TensorInfo describes one tensor in the file's directory.
type TensorInfo struct {
	Name string
	// Shape is ggml's ne: Shape[0] is the contiguous (fastest-varying)
	// dimension, so a [rows, cols] matrix has Shape {cols, rows}.
	Shape []int64
	Type  TensorType
	// Offset is the byte offset of the data from File.DataOffset.
	Offset int64
	// Size is the data's length in bytes.
	Size int64
}

// Elements is the number of elements (the product of Shape).
func (t TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

func (t TensorInfo) clone() TensorInfo {
	t.Shape = slices.Clone(t.Shape)
	return t
}

// NumTensors is the number of tensors in the file.
func (f *File) NumTensors() int { return len(f.tensors) }

// Tensors returns the tensor directory in file order (a copy).
func (f *File) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(f.tensors))
	for i, t := range f.tensors {
		out[i] = t.clone()
	}
	return out
}

// Tensor returns the directory entry for name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.tensorIx[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.tensors[i].clone(), true
}

// TensorExtent is the room the file gives the named tensor: the bytes from
// its offset to the next tensor's offset (or to the end of the file), which
// is its Size plus at most the alignment padding in a file written by ggml,
// gguf-py or this package. A larger extent means the tensor's type or shape
// was changed after writing (an F32 tensor relabelled Q8_0 still has its F32
// bytes), which the directory alone cannot show.
func (f *File) TensorExtent(name string) (int64, bool) {
	i, ok := f.tensorIx[name]
	if !ok {
		return 0, false
	}
	return f.extents[i], true
}

// TensorData returns the bytes of the named tensor: exactly Size bytes. For
// files from Open or OpenBytes the slice aliases the mapping (no copy) and
// must be treated as read-only; for files from Parse it is a fresh copy
// read from the underlying ReaderAt.
func (f *File) TensorData(name string) ([]byte, error) {
	i, ok := f.tensorIx[name]
	if !ok {
		return nil, fmt.Errorf("gguf: no tensor %q", name)
	}
	return f.TensorDataAt(i)
}

// TensorDataAt is TensorData for the i-th tensor in file order.
func (f *File) TensorDataAt(i int) ([]byte, error) {
	if i < 0 || i >= len(f.tensors) {
		return nil, fmt.Errorf("gguf: tensor index %d out of range [0, %d)", i, len(f.tensors))
	}
	t := f.tensors[i]
	start := f.dataOffset + t.Offset // validated at parse: start+Size ≤ size
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return nil, ErrClosed
	}
	if f.data != nil {
		return f.data[start : start+t.Size : start+t.Size], nil
	}
	buf := make([]byte, t.Size)
	if err := readFull(f.src, buf, start); err != nil {
		return nil, fmt.Errorf("gguf: tensor %q: reading %d bytes at offset %d: %w", t.Name, t.Size, start, err)
	}
	return buf, nil
}

// Close releases the mapping made by Open. Afterwards TensorData returns
// ErrClosed, and slices it returned earlier must no longer be used. Metadata
// accessors keep working. Closing twice returns ErrClosed.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	f.closed = true
	f.data, f.src = nil, nil
	if f.unmap != nil {
		err := f.unmap()
		f.unmap = nil
		if err != nil {
			return fmt.Errorf("gguf: unmap: %w", err)
		}
	}
	return nil
}

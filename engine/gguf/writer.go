package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// Writer builds a GGUF version 3 file from metadata entries and tensors.
//
// Entries and tensors are written in the order they were added. Each tensor's
// data starts at a multiple of the alignment (general.alignment if set, else
// 32) and is followed by zero padding to the next multiple, which is the
// layout llama.cpp and gguf-py produce. A Writer is not safe for concurrent
// use.
type Writer struct {
	kvs      []KV
	kvIndex  map[string]int
	tensors  []writerTensor
	tensorIx map[string]bool
}

// writerTensor is a tensor to be written: its directory entry and where its
// bytes come from (data, or exactly info.Size bytes read from src).
type writerTensor struct {
	info TensorInfo
	data []byte
	src  io.Reader
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer {
	return &Writer{kvIndex: map[string]int{}, tensorIx: map[string]bool{}}
}

// NewWriterFrom returns a Writer holding every metadata entry and tensor of
// f, in f's order, with tensor data taken from f without copying; f must
// stay open until the Writer has written. It is the starting point for tools
// that rewrite a file with changes.
func NewWriterFrom(f *File) (*Writer, error) {
	w := NewWriter()
	for _, kv := range f.kvs {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			return nil, err
		}
	}
	for i, t := range f.tensors {
		data, err := f.TensorDataAt(i)
		if err != nil {
			return nil, err
		}
		if err := w.AddTensor(t.Name, t.Type, t.Shape, data); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Set adds the metadata entry key = v, or replaces its value in place if key
// was already set. v is a Value or a Go value accepted by ValueOf.
// general.alignment must be a uint32 power of two.
func (w *Writer) Set(key string, v any) error {
	val, err := ValueOf(v)
	if err != nil {
		return fmt.Errorf("gguf: key %q: %w", key, err)
	}
	if key == KeyAlignment {
		a, ok := val.Data.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return fmt.Errorf("gguf: %s must be a uint32 power of two, got %s %v", KeyAlignment, val.Type, val.Data)
		}
	}
	if i, ok := w.kvIndex[key]; ok {
		w.kvs[i].Value = val
		return nil
	}
	w.kvIndex[key] = len(w.kvs)
	w.kvs = append(w.kvs, KV{Key: key, Value: val})
	return nil
}

// Delete removes the metadata entry key, if present.
func (w *Writer) Delete(key string) {
	i, ok := w.kvIndex[key]
	if !ok {
		return
	}
	w.kvs = slices.Delete(w.kvs, i, i+1)
	delete(w.kvIndex, key)
	for j := i; j < len(w.kvs); j++ {
		w.kvIndex[w.kvs[j].Key] = j
	}
}

// AddTensor adds a tensor whose bytes are data, which must be exactly the
// size implied by typ and shape (ggml order: shape[0] is contiguous). data
// is not copied and must not change until the Writer has written.
func (w *Writer) AddTensor(name string, typ TensorType, shape []int64, data []byte) error {
	info, err := w.tensorInfo(name, typ, shape)
	if err != nil {
		return err
	}
	if int64(len(data)) != info.Size {
		return fmt.Errorf("gguf: tensor %q: data is %d bytes, %s %v needs %d", name, len(data), typ, shape, info.Size)
	}
	w.addTensor(writerTensor{info: info, data: data})
	return nil
}

// AddTensorReader adds a tensor whose bytes are streamed from r while
// writing, so a converter need not hold all weights in memory. r must yield
// at least the size implied by typ and shape; it is read once, so a Writer
// with reader-backed tensors can be written only once.
func (w *Writer) AddTensorReader(name string, typ TensorType, shape []int64, r io.Reader) error {
	info, err := w.tensorInfo(name, typ, shape)
	if err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("gguf: tensor %q: nil reader", name)
	}
	w.addTensor(writerTensor{info: info, src: r})
	return nil
}

func (w *Writer) tensorInfo(name string, typ TensorType, shape []int64) (TensorInfo, error) {
	if w.tensorIx[name] {
		return TensorInfo{}, fmt.Errorf("gguf: duplicate tensor name %q", name)
	}
	_, size, err := shapeSize(typ, shape)
	if err != nil {
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	return TensorInfo{Name: name, Shape: slices.Clone(shape), Type: typ, Size: size}, nil
}

func (w *Writer) addTensor(t writerTensor) {
	w.tensorIx[t.info.Name] = true
	w.tensors = append(w.tensors, t)
}

func (w *Writer) alignment() int64 {
	if i, ok := w.kvIndex[KeyAlignment]; ok {
		return int64(w.kvs[i].Value.Data.(uint32)) // checked by Set
	}
	return DefaultAlignment
}

// layout assigns each tensor its offset in the data section and returns the
// section's total size, padding included.
func (w *Writer) layout() ([]TensorInfo, int64, error) {
	align := w.alignment()
	infos := make([]TensorInfo, len(w.tensors))
	off := int64(0)
	for i, t := range w.tensors {
		infos[i] = t.info
		infos[i].Offset = off
		end, ok := alignUp(off+t.info.Size, align)
		if off+t.info.Size < off || !ok {
			return nil, 0, fmt.Errorf("gguf: tensor %q: data section size overflows int64", t.info.Name)
		}
		off = end
	}
	return infos, off, nil
}

// WriteTo writes the file to dst and returns the number of bytes written.
func (w *Writer) WriteTo(dst io.Writer) (int64, error) {
	infos, _, err := w.layout()
	if err != nil {
		return 0, err
	}
	e := &encoder{w: bufio.NewWriterSize(dst, 1<<20)}
	e.raw([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(infos)))
	e.u64(uint64(len(w.kvs)))
	for _, kv := range w.kvs {
		e.str(kv.Key)
		e.u32(uint32(kv.Value.Type))
		e.value(kv.Value)
	}
	for _, t := range infos {
		e.str(t.Name)
		e.u32(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			e.u64(uint64(d))
		}
		e.u32(uint32(t.Type))
		e.u64(uint64(t.Offset))
	}
	align := w.alignment()
	if len(infos) > 0 {
		e.pad(align)
	}
	for i, t := range w.tensors {
		if t.src == nil {
			e.raw(t.data)
		} else if e.err == nil {
			n, err := io.CopyN(e.w, t.src, t.info.Size)
			e.n += n
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = fmt.Errorf("source gave %d of %d bytes: %w", n, t.info.Size, io.ErrUnexpectedEOF)
				}
				e.err = fmt.Errorf("gguf: tensor %q: %w", infos[i].Name, err)
			}
		}
		e.pad(align)
	}
	if e.err == nil {
		e.err = e.w.Flush()
	}
	return e.n, e.err
}

// WriteFile writes the file to path atomically: to a temporary file in the
// same directory, synced, then renamed over path.
func (w *Writer) WriteFile(path string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = w.WriteTo(tmp); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

// encoder writes little-endian GGUF primitives, remembering the first error
// and the byte count so WriteTo can check once at the end.
type encoder struct {
	w   *bufio.Writer
	n   int64
	err error
	buf [8]byte
}

func (e *encoder) raw(b []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.Write(b)
	e.n += int64(n)
	e.err = err
}

func (e *encoder) u8(v uint8) { e.buf[0] = v; e.raw(e.buf[:1]) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.raw(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.raw(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.raw(e.buf[:8])
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	if e.err == nil {
		n, err := e.w.WriteString(s)
		e.n += int64(n)
		e.err = err
	}
}

// pad writes zeros up to the next multiple of align (relative to the start
// of the file).
func (e *encoder) pad(align int64) {
	var zeros [64]byte
	for k := (align - e.n%align) % align; k > 0 && e.err == nil; {
		c := min(k, int64(len(zeros)))
		e.raw(zeros[:c])
		k -= c
	}
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// value writes v's payload (not its type id); v has passed Value.check.
func (e *encoder) value(v Value) {
	switch x := v.Data.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		e.u8(boolByte(x))
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	default:
		e.array(v)
	}
}

func (e *encoder) array(v Value) {
	e.u32(uint32(v.Elem))
	e.u64(uint64(v.Len()))
	switch x := v.Data.(type) {
	case []uint8:
		e.raw(x)
	case []int8:
		each(e, x, func(a int8) { e.u8(uint8(a)) })
	case []uint16:
		each(e, x, e.u16)
	case []int16:
		each(e, x, func(a int16) { e.u16(uint16(a)) })
	case []uint32:
		each(e, x, e.u32)
	case []int32:
		each(e, x, func(a int32) { e.u32(uint32(a)) })
	case []float32:
		each(e, x, func(a float32) { e.u32(math.Float32bits(a)) })
	case []bool:
		each(e, x, func(a bool) { e.u8(boolByte(a)) })
	case []string:
		each(e, x, e.str)
	case []uint64:
		each(e, x, e.u64)
	case []int64:
		each(e, x, func(a int64) { e.u64(uint64(a)) })
	case []float64:
		each(e, x, func(a float64) { e.u64(math.Float64bits(a)) })
	case []Value:
		each(e, x, e.array)
	}
}

func each[T any](e *encoder, s []T, f func(T)) {
	for _, x := range s {
		if e.err != nil {
			return
		}
		f(x)
	}
}

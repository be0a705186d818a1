package gguf

import (
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"sync"
)

// Magic is the four bytes every GGUF file starts with.
const Magic = "GGUF"

// DefaultAlignment is the data alignment used when a file has no
// general.alignment key.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that overrides DefaultAlignment.
const KeyAlignment = "general.alignment"

// File is a parsed GGUF file: its metadata, its tensor directory and access
// to the tensor bytes. Metadata is copied into Go memory while parsing and
// stays readable after Close; tensor data is not.
//
// A File is safe for concurrent use. Slices returned by TensorData alias the
// mapping (for Open) and must not be used after Close.
type File struct {
	version    uint32
	alignment  int64
	dataOffset int64
	size       int64

	kvs      []KV
	kvIndex  map[string]int
	tensors  []TensorInfo
	tensorIx map[string]int
	extents  []int64 // per tensor: bytes from its offset to the next tensor's, or to the end of the file

	mu     sync.RWMutex
	closed bool
	data   []byte       // whole file in memory (mapping or caller's bytes), or nil
	src    io.ReaderAt  // used when data is nil
	unmap  func() error // releases the mapping, if any
}

// Open maps the file at path read-only and parses it; anything but a
// regular file is refused without blocking (OpenRegular). Tensor data is served
// from the mapping without copying. Call Close to unmap.
func Open(path string) (*File, error) {
	fh, st, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close() // the mapping outlives the descriptor
	size := st.Size()
	if size < headerSize {
		return nil, withPath(formatErrorf("file is %d bytes, shorter than the %d-byte header", size, headerSize), path)
	}
	if int64(int(size)) != size {
		return nil, withPath(formatErrorf("file of %d bytes is too large to map on this platform", size), path)
	}
	data, unmap, err := mapFile(fh, int(size))
	if err != nil {
		return nil, fmt.Errorf("gguf: map %s: %w", path, err)
	}
	f, err := parse(newMemDecoder(data))
	if err != nil {
		_ = unmap()
		return nil, withPath(err, path)
	}
	f.data, f.unmap = data, unmap
	return f, nil
}

// OpenBytes parses a GGUF file held in memory. TensorData returns slices of
// b, which must not be modified while the File is in use.
func OpenBytes(b []byte) (*File, error) {
	f, err := parse(newMemDecoder(b))
	if err != nil {
		return nil, err
	}
	f.data = b
	return f, nil
}

// Parse reads a GGUF file of the given size from r without mapping it.
// Metadata is read through a small buffer; TensorData reads (and copies)
// each tensor from r on demand.
func Parse(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, formatErrorf("negative file size %d", size)
	}
	f, err := parse(newReaderDecoder(r, size))
	if err != nil {
		return nil, err
	}
	f.src = r
	return f, nil
}

// headerSize is magic + version + tensor count + kv count.
const headerSize = 4 + 4 + 8 + 8

// Minimum encoded sizes, used to bound counts before allocating.
const (
	minKVSize     = 8 + 4 + 1     // empty key, type, 1-byte value
	minTensorSize = 8 + 4 + 4 + 8 // empty name, n_dims 0, type, offset
)

// parse decodes the header, metadata and tensor directory and validates
// every tensor's placement in the data section.
func parse(d *decoder) (*File, error) {
	f := &File{size: d.size, alignment: DefaultAlignment}
	if err := f.parseHeader(d); err != nil {
		return nil, err
	}
	nTensors, err := d.count(minTensorSize, "tensor")
	if err != nil {
		return nil, err
	}
	nKV, err := d.count(minKVSize, "metadata")
	if err != nil {
		return nil, err
	}
	if err := f.parseKVs(d, nKV); err != nil {
		return nil, err
	}
	if err := f.parseAlignment(); err != nil {
		return nil, err
	}
	if err := f.parseTensors(d, nTensors); err != nil {
		return nil, err
	}
	start, ok := alignUp(d.off, f.alignment)
	if !ok {
		return nil, formatErrorf("data section start overflows")
	}
	f.dataOffset = start
	if err := f.checkPlacement(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) parseHeader(d *decoder) error {
	magic, err := d.take(4, "magic")
	if err != nil {
		return err
	}
	switch string(magic) {
	case Magic:
	case "FUGG":
		return formatErrorf("big-endian GGUF files are not supported")
	default:
		return formatErrorf("bad magic %q, want %q (not a GGUF file)", magic, Magic)
	}
	v, err := d.u32("version")
	if err != nil {
		return err
	}
	switch {
	case v == 2 || v == 3:
		f.version = v
		return nil
	case v == 1:
		return formatErrorf("GGUF version 1 (32-bit counts) is not supported; re-convert the model")
	case v&0xffff == 0 && v != 0:
		if bv := bits.ReverseBytes32(v); bv >= 1 && bv <= 3 {
			return formatErrorf("big-endian GGUF files are not supported (version %d byte-swapped)", bv)
		}
	}
	return formatErrorf("unsupported GGUF version %d (want 2 or 3)", v)
}

func (f *File) parseKVs(d *decoder, n int64) error {
	f.kvs = make([]KV, 0, d.capHint(n))
	f.kvIndex = make(map[string]int, d.capHint(n))
	for i := range n {
		at := d.off
		key, err := d.str(fmt.Sprintf("metadata %d key", i))
		if err != nil {
			return err
		}
		what := fmt.Sprintf("metadata %q", key)
		if _, dup := f.kvIndex[key]; dup {
			return formatErrorf("%s: duplicate key at offset %d", what, at)
		}
		t, err := d.u32(what + " type")
		if err != nil {
			return err
		}
		if !ValueType(t).Valid() {
			return formatErrorf("%s: unknown value type %d at offset %d", what, t, d.off-4)
		}
		v, err := d.value(ValueType(t), 0, what)
		if err != nil {
			return err
		}
		f.kvIndex[key] = len(f.kvs)
		f.kvs = append(f.kvs, KV{Key: key, Value: v})
	}
	return nil
}

// parseAlignment applies general.alignment, which llama.cpp requires to be a
// uint32 power of two.
func (f *File) parseAlignment() error {
	v, ok := f.Value(KeyAlignment)
	if !ok {
		return nil
	}
	a, isU32 := v.Data.(uint32)
	if !isU32 {
		return formatErrorf("%s has type %s, want uint32", KeyAlignment, v.Type)
	}
	if a == 0 || a&(a-1) != 0 {
		return formatErrorf("%s is %d, must be a power of two", KeyAlignment, a)
	}
	f.alignment = int64(a)
	return nil
}

func (f *File) parseTensors(d *decoder, n int64) error {
	f.tensors = make([]TensorInfo, 0, d.capHint(n))
	f.tensorIx = make(map[string]int, d.capHint(n))
	for i := range n {
		at := d.off
		name, err := d.str(fmt.Sprintf("tensor %d name", i))
		if err != nil {
			return err
		}
		what := fmt.Sprintf("tensor %q", name)
		if _, dup := f.tensorIx[name]; dup {
			return formatErrorf("%s: duplicate tensor name at offset %d", what, at)
		}
		nDims, err := d.u32(what + " n_dims")
		if err != nil {
			return err
		}
		if nDims > MaxDims {
			return formatErrorf("%s: n_dims %d at offset %d, at most %d allowed", what, nDims, d.off-4, MaxDims)
		}
		shape := make([]int64, nDims)
		for j := range shape {
			ne, err := d.u64(what + " dim")
			if err != nil {
				return err
			}
			if ne == 0 || ne > math.MaxInt64 {
				return formatErrorf("%s: dim %d is %d (at offset %d), must be in [1, 2^63)", what, j, ne, d.off-8)
			}
			shape[j] = int64(ne)
		}
		typ, err := d.u32(what + " type")
		if err != nil {
			return err
		}
		if !TensorType(typ).Known() {
			return formatErrorf("%s: unknown tensor type %d at offset %d", what, typ, d.off-4)
		}
		off, err := d.u64(what + " offset")
		if err != nil {
			return err
		}
		_, size, err := shapeSize(TensorType(typ), shape)
		if err != nil {
			return formatErrorf("%s: %v", what, err)
		}
		if off > uint64(d.size) {
			return formatErrorf("%s: data offset %d past end of file (size %d)", what, off, d.size)
		}
		f.tensorIx[name] = len(f.tensors)
		f.tensors = append(f.tensors, TensorInfo{
			Name: name, Shape: shape, Type: TensorType(typ),
			Offset: int64(off), Size: size,
		})
	}
	return nil
}

// checkPlacement verifies that every tensor's data is aligned, lies inside
// the file and overlaps no other tensor, and records each tensor's extent.
func (f *File) checkPlacement() error {
	order := make([]int, len(f.tensors))
	for i := range order {
		order[i] = i
	}
	for _, t := range f.tensors {
		if t.Offset%f.alignment != 0 {
			return formatErrorf("tensor %q: data offset %d is not a multiple of the alignment %d", t.Name, t.Offset, f.alignment)
		}
		start := f.dataOffset + t.Offset // both ≤ size, no overflow
		if start > f.size || t.Size > f.size-start {
			return formatErrorf("tensor %q: data [offset %d, +%d) past end of file (size %d)", t.Name, start, t.Size, f.size)
		}
	}
	sort.Slice(order, func(a, b int) bool { return f.tensors[order[a]].Offset < f.tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		p, q := f.tensors[order[k-1]], f.tensors[order[k]]
		if p.Offset+p.Size > q.Offset {
			return formatErrorf("tensor %q: data [offset %d, +%d) overlaps tensor %q [offset %d, +%d)",
				q.Name, f.dataOffset+q.Offset, q.Size, p.Name, f.dataOffset+p.Offset, p.Size)
		}
	}
	f.extents = make([]int64, len(f.tensors))
	for k, i := range order {
		end := f.size - f.dataOffset
		if k+1 < len(order) {
			end = f.tensors[order[k+1]].Offset
		}
		f.extents[i] = end - f.tensors[i].Offset
	}
	return nil
}

// alignUp rounds n up to a multiple of a (a power of two), reporting overflow.
func alignUp(n, a int64) (int64, bool) {
	r := (n + a - 1) &^ (a - 1)
	return r, r >= n
}

// Version is the file's GGUF version (2 or 3).
func (f *File) Version() uint32 { return f.version }

// Alignment is the data alignment in bytes (general.alignment or 32).
func (f *File) Alignment() int64 { return f.alignment }

// DataOffset is the absolute file offset where the tensor data section
// starts; TensorInfo.Offset is relative to it.
func (f *File) DataOffset() int64 { return f.dataOffset }

// Size is the file's size in bytes.
func (f *File) Size() int64 { return f.size }

package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// decoder reads little-endian GGUF primitives from a file of known size,
// checking every read against the bytes left so that lengths taken from the
// file can never index past its end or drive a large allocation.
//
// It reads either from mem (the whole file, e.g. a mapping) or, when mem is
// nil, from src through a small window buffer.
type decoder struct {
	mem  []byte
	src  io.ReaderAt
	size int64
	off  int64

	win    []byte // buffered bytes of src starting at winOff
	winOff int64
}

// windowSize is how much the ReaderAt path reads ahead at once.
const windowSize = 64 << 10

func newMemDecoder(b []byte) *decoder {
	return &decoder{mem: b, size: int64(len(b))}
}

func newReaderDecoder(r io.ReaderAt, size int64) *decoder {
	return &decoder{src: r, size: size}
}

func (d *decoder) remaining() int64 { return d.size - d.off }

// capHint is the capacity to preallocate for n items already checked
// against the remaining size. In memory that size is real, so n is used as
// is; through a ReaderAt the size is the caller's claim, so the hint is
// capped and slices grow only as items are actually read.
func (d *decoder) capHint(n int64) int64 {
	if d.mem != nil {
		return n
	}
	return min(n, 1<<12)
}

// take returns the next n bytes and advances past them. The slice is valid
// only until the next call (it may alias the window buffer) and must be
// copied to be kept.
func (d *decoder) take(n int64, what string) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, formatErrorf("%s: needs %d bytes at offset %d, only %d left (file size %d)",
			what, n, d.off, d.remaining(), d.size)
	}
	if d.mem != nil {
		b := d.mem[d.off : d.off+n : d.off+n]
		d.off += n
		return b, nil
	}
	if d.off >= d.winOff && d.off+n <= d.winOff+int64(len(d.win)) {
		b := d.win[d.off-d.winOff : d.off-d.winOff+n]
		d.off += n
		return b, nil
	}
	if n > windowSize {
		b, err := d.readLarge(n, what)
		if err != nil {
			return nil, err
		}
		d.off += n
		return b, nil
	}
	want := min(int64(windowSize), d.remaining())
	if cap(d.win) < windowSize {
		d.win = make([]byte, windowSize)
	}
	d.win = d.win[:want]
	if err := readFull(d.src, d.win, d.off); err != nil {
		d.win = d.win[:0]
		return nil, fmt.Errorf("gguf: %s: reading %d bytes at offset %d: %w", what, want, d.off, err)
	}
	d.winOff = d.off
	b := d.win[:n]
	d.off += n
	return b, nil
}

// readLarge reads n bytes at the current offset in growing chunks, so a
// caller-supplied size larger than what src really holds fails at the first
// short read instead of after allocating n bytes up front.
func (d *decoder) readLarge(n int64, what string) ([]byte, error) {
	const chunk = 1 << 20
	buf := make([]byte, 0, min(n, chunk))
	for int64(len(buf)) < n {
		k := min(n-int64(len(buf)), chunk)
		start := len(buf)
		buf = append(buf, make([]byte, k)...)
		if err := readFull(d.src, buf[start:], d.off+int64(start)); err != nil {
			return nil, fmt.Errorf("gguf: %s: reading %d bytes at offset %d: %w", what, k, d.off+int64(start), err)
		}
	}
	return buf, nil
}

// readFull is ReadAt that treats io.EOF with a full buffer as success, as
// the io.ReaderAt contract allows.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (d *decoder) u8(what string) (uint8, error) {
	b, err := d.take(1, what)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u16(what string) (uint16, error) {
	b, err := d.take(2, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (d *decoder) u32(what string) (uint32, error) {
	b, err := d.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64(what string) (uint64, error) {
	b, err := d.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads a u64 element count and checks that count elements of at
// least minSize bytes each fit in what is left of the file.
func (d *decoder) count(minSize int64, what string) (int64, error) {
	at := d.off
	n, err := d.u64(what + " count")
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt64 || (minSize > 0 && int64(n) > d.remaining()/minSize) {
		return 0, formatErrorf("%s: count %d at offset %d needs at least %d bytes each, only %d bytes left",
			what, n, at, minSize, d.remaining())
	}
	return int64(n), nil
}

// str reads a GGUF string (u64 length, then bytes) and copies it.
func (d *decoder) str(what string) (string, error) {
	b, err := d.strBytes(what)
	return string(b), err
}

// strBytes reads a GGUF string without copying; the slice is valid only
// until the next read.
func (d *decoder) strBytes(what string) ([]byte, error) {
	at := d.off
	n, err := d.u64(what) // no "what + suffix" here: this runs once per token
	if err != nil {
		return nil, err
	}
	if n > uint64(d.remaining()) {
		return nil, formatErrorf("%s: string length %d at offset %d past end of file (%d bytes left)",
			what, n, at, d.remaining())
	}
	return d.take(int64(n), what)
}

// strings reads n strings into one shared backing string, so a 100k-token
// vocabulary costs a few allocations instead of one per token.
func (d *decoder) strings(n int64, what string) ([]string, error) {
	ends := make([]int, 0, d.capHint(n))
	var arena []byte
	for range n {
		b, err := d.strBytes(what)
		if err != nil {
			return nil, err
		}
		arena = append(arena, b...)
		ends = append(ends, len(arena))
	}
	all := string(arena)
	out := make([]string, len(ends))
	start := 0
	for i, end := range ends {
		out[i] = all[start:end]
		start = end
	}
	return out, nil
}

// value reads one value of type t; depth counts enclosing arrays.
func (d *decoder) value(t ValueType, depth int, what string) (Value, error) {
	if t == ValueArray {
		return d.array(depth, what)
	}
	if t == ValueString {
		s, err := d.str(what)
		return Value{Type: ValueString, Data: s}, err
	}
	size := t.fixedSize()
	if size == 0 {
		return Value{}, formatErrorf("%s: unknown value type %d at offset %d", what, uint32(t), d.off-4)
	}
	at := d.off
	b, err := d.take(size, what)
	if err != nil {
		return Value{}, err
	}
	v := Value{Type: t, Data: decodeScalar(t, b)}
	if t == ValueBool && b[0] > 1 {
		return Value{}, formatErrorf("%s: bool value %d at offset %d is neither 0 nor 1", what, b[0], at)
	}
	return v, nil
}

// decodeScalar decodes a fixed-size scalar of type t from b.
func decodeScalar(t ValueType, b []byte) any {
	le := binary.LittleEndian
	switch t {
	case ValueUint8:
		return b[0]
	case ValueInt8:
		return int8(b[0])
	case ValueUint16:
		return le.Uint16(b)
	case ValueInt16:
		return int16(le.Uint16(b))
	case ValueUint32:
		return le.Uint32(b)
	case ValueInt32:
		return int32(le.Uint32(b))
	case ValueFloat32:
		return math.Float32frombits(le.Uint32(b))
	case ValueBool:
		return b[0] != 0
	case ValueUint64:
		return le.Uint64(b)
	case ValueInt64:
		return int64(le.Uint64(b))
	case ValueFloat64:
		return math.Float64frombits(le.Uint64(b))
	}
	return nil
}

// array reads an array value: element type, count, then the elements.
func (d *decoder) array(depth int, what string) (Value, error) {
	if depth >= maxDepth {
		return Value{}, formatErrorf("%s: arrays nested deeper than %d at offset %d", what, maxDepth, d.off)
	}
	at := d.off
	et32, err := d.u32(what + " array type")
	if err != nil {
		return Value{}, err
	}
	et := ValueType(et32)
	if !et.Valid() {
		return Value{}, formatErrorf("%s: unknown array element type %d at offset %d", what, et32, at)
	}
	n, err := d.count(et.minSize(), what+" array")
	if err != nil {
		return Value{}, err
	}
	v := Value{Type: ValueArray, Elem: et}
	switch et {
	case ValueString:
		if v.Data, err = d.strings(n, what); err != nil {
			return Value{}, err
		}
	case ValueArray:
		s := make([]Value, 0, d.capHint(n))
		for range n {
			e, err := d.array(depth+1, what)
			if err != nil {
				return Value{}, err
			}
			s = append(s, e)
		}
		v.Data = s
	default:
		size := et.fixedSize()
		b, err := d.take(n*size, what)
		if err != nil {
			return Value{}, err
		}
		if v.Data, err = decodeArray(et, b, n); err != nil {
			return Value{}, formatErrorf("%s: %v (array at offset %d)", what, err, at)
		}
	}
	return v, nil
}

// decodeArray decodes n fixed-size elements of type t from b.
func decodeArray(t ValueType, b []byte, n int64) (any, error) {
	le := binary.LittleEndian
	switch t {
	case ValueUint8:
		return append([]uint8{}, b...), nil
	case ValueInt8:
		return decodeEach(n, 1, b, func(p []byte) int8 { return int8(p[0]) }), nil
	case ValueUint16:
		return decodeEach(n, 2, b, le.Uint16), nil
	case ValueInt16:
		return decodeEach(n, 2, b, func(p []byte) int16 { return int16(le.Uint16(p)) }), nil
	case ValueUint32:
		return decodeEach(n, 4, b, le.Uint32), nil
	case ValueInt32:
		return decodeEach(n, 4, b, func(p []byte) int32 { return int32(le.Uint32(p)) }), nil
	case ValueFloat32:
		return decodeEach(n, 4, b, func(p []byte) float32 { return math.Float32frombits(le.Uint32(p)) }), nil
	case ValueUint64:
		return decodeEach(n, 8, b, le.Uint64), nil
	case ValueInt64:
		return decodeEach(n, 8, b, func(p []byte) int64 { return int64(le.Uint64(p)) }), nil
	case ValueFloat64:
		return decodeEach(n, 8, b, func(p []byte) float64 { return math.Float64frombits(le.Uint64(p)) }), nil
	case ValueBool:
		out := make([]bool, n)
		for i, c := range b {
			if c > 1 {
				return nil, fmt.Errorf("bool element %d is %d, neither 0 nor 1", i, c)
			}
			out[i] = c == 1
		}
		return out, nil
	}
	return nil, fmt.Errorf("no fixed-size decoding for %s", t)
}

func decodeEach[T any](n, size int64, b []byte, f func([]byte) T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = f(b[int64(i)*size:])
	}
	return out
}

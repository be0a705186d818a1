package native

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// quantFixture is one testdata/quant/dequant-<type>.bin: random blocks of a
// type (ordinary, ±65504, subnormal and all-zero scales) and llama.cpp's own
// dequantization of them (see testdata/quant/README.md).
type quantFixture struct {
	typ    Type
	blocks []byte
	want   []float32
}

func readQuantFixture(t *testing.T, path string) quantFixture {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 16 {
		t.Fatalf("%s: %d bytes, no header", path, len(b))
	}
	h := func(i int) int { return int(binary.LittleEndian.Uint32(b[4*i:])) }
	typ, n, elems, bytes := Type(h(0)), h(1), h(2), h(3)
	if typ.BlockSize() != elems || RowSize(typ, elems) != bytes {
		t.Fatalf("%s: type %v block %d×%d bytes disagrees with the kernels' %d", path, typ, elems, bytes, typ.BlockSize())
	}
	body := b[16:]
	if len(body) != n*bytes+4*n*elems {
		t.Fatalf("%s: %d bytes after the header, want %d", path, len(body), n*bytes+4*n*elems)
	}
	f := quantFixture{typ: typ, blocks: body[:n*bytes], want: make([]float32, n*elems)}
	for i := range f.want {
		f.want[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[n*bytes+4*i:]))
	}
	return f
}

// TestDequantizeMatchesLlamaCpp: kiln_dequantize and kiln_get_rows give
// llama.cpp's values bit for bit on every fixture, under every variant.
func TestDequantizeMatchesLlamaCpp(t *testing.T) {
	paths, _ := filepath.Glob("testdata/quant/dequant-*.bin")
	if len(paths) < 12 {
		t.Fatalf("found %d fixtures, want 12", len(paths))
	}
	for _, path := range paths {
		f := readQuantFixture(t, path)
		t.Run(f.typ.String(), func(t *testing.T) {
			forEachISA(t, func(t *testing.T, _ ISA) {
				got := poisoned(len(f.want))
				if err := Dequantize(f.typ, f.blocks, got); err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(f.want[i]) {
						t.Fatalf("element %d (block %d): got %g (%#x), llama.cpp %g (%#x)", i, i/f.typ.BlockSize(),
							got[i], math.Float32bits(got[i]), f.want[i], math.Float32bits(f.want[i]))
					}
				}
				// the same rows through get_rows, in reverse order
				k := f.typ.BlockSize()
				rows := len(f.want) / k
				ids := make([]int32, rows)
				for i := range ids {
					ids[i] = int32(rows - 1 - i)
				}
				y := poisoned(len(f.want))
				if err := GetRows(f.typ, f.blocks, rows, k, ids, y); err != nil {
					t.Fatal(err)
				}
				for i, id := range ids {
					for c := 0; c < k; c++ {
						if math.Float32bits(y[i*k+c]) != math.Float32bits(f.want[int(id)*k+c]) {
							t.Fatalf("get_rows row %d col %d: got %g, llama.cpp %g", id, c, y[i*k+c], f.want[int(id)*k+c])
						}
					}
				}
			})
		})
	}
}

// TestQuantTypesRefuseBadRows: a row that is not a whole number of blocks is
// ErrAlign, naming the type and its block.
func TestQuantTypesRefuseBadRows(t *testing.T) {
	for _, typ := range []Type{Q4_0, Q5_0, Q4_K, Q6_K, IQ4_XS} {
		t.Run(typ.String(), func(t *testing.T) {
			k := typ.BlockSize() + 16
			err := MatMul(typ, make([]byte, 4096), make([]float32, k), make([]float32, 1), 1, 1, k)
			if !errors.Is(err, ErrAlign) {
				t.Fatalf("MatMul k=%d: %v, want ErrAlign", k, err)
			}
			if err := Dequantize(typ, make([]byte, 4096), make([]float32, k)); !errors.Is(err, ErrAlign) {
				t.Fatalf("Dequantize n=%d: %v, want ErrAlign", k, err)
			}
		})
	}
}

// TestParseTypeQuantNames: every type's name parses back to it, any case.
func TestParseTypeQuantNames(t *testing.T) {
	for _, typ := range Types() {
		for _, name := range []string{typ.String(), upper(typ.String())} {
			got, err := ParseType(name)
			if err != nil || got != typ {
				t.Errorf("ParseType(%q) = %v, %v; want %v", name, got, err, typ)
			}
		}
	}
	if _, err := ParseType("q3_k_m"); err == nil {
		t.Error("ParseType accepted a preset name")
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// TestQuantizeMatchesLlamaCpp: Quantize writes the bytes llama.cpp's
// quantizers (ggml_quantize_chunk without an importance matrix) wrote for
// the fixture's rows: model-like weights, outliers, tiny values, an all-zero
// super-block, one-signed rows, rows far from zero, exact grids, negative
// extremes and values near the f16 limit (testdata/quant/README.md).
func TestQuantizeMatchesLlamaCpp(t *testing.T) {
	paths, _ := filepath.Glob("testdata/quant/quantize-*.bin")
	if len(paths) < 12 {
		t.Fatalf("found %d fixtures, want 12", len(paths))
	}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		h := func(i int) int { return int(binary.LittleEndian.Uint32(b[4*i:])) }
		typ, rows, perRow := Type(h(0)), h(1), h(2)
		rs := RowSize(typ, perRow)
		if rs == 0 || len(b) != 12+4*rows*perRow+rows*rs {
			t.Fatalf("%s: %d bytes do not match type %v, %d rows of %d", path, len(b), typ, rows, perRow)
		}
		x := make([]float32, rows*perRow)
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[12+4*i:]))
		}
		want := b[12+4*rows*perRow:]
		t.Run(typ.String(), func(t *testing.T) {
			got := make([]byte, len(want))
			for i := range got {
				got[i] = 0xA5 // poison
			}
			if err := Quantize(typ, x, got, rows, perRow); err != nil {
				t.Fatal(err)
			}
			for r := range rows {
				g, w := got[r*rs:(r+1)*rs], want[r*rs:(r+1)*rs]
				for i := range g {
					if g[i] != w[i] {
						t.Errorf("row %d: byte %d (block %d) = %#02x, llama.cpp %#02x", r, i, i/int(RowSize(typ, typ.BlockSize())), g[i], w[i])
						break
					}
				}
			}
		})
	}
}

package gguf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// fuzzSeeds are small valid files of several shapes plus damaged variants.
func fuzzSeeds(t testing.TB) map[string][]byte {
	small := smallFile(t)
	seeds := map[string][]byte{
		"valid-small":     small,
		"valid-raw":       baseRaw().bytes(),
		"valid-v2":        rawFile{version: 2, kvs: []rawKV{arch()}, tensors: validTensors(), dataLen: 64}.bytes(),
		"valid-vocab":     rawFile{kvs: []rawKV{arch(), {"tokenizer.ggml.tokens", ValueArray, encArr(ValueString, 2, encStr("a"), encStr("bc"))}}}.bytes(),
		"valid-align64":   rawFile{kvs: []rawKV{{KeyAlignment, ValueUint32, le32(64)}}, tensors: []rawTensor{{"q", []uint64{32, 2}, uint32(TensorQ8_0), 0}}, align: 64, dataLen: 128}.bytes(),
		"truncated-half":  small[:len(small)/2],
		"truncated-infos": small[:len(small)-200],
	}
	flip := bytes.Clone(small)
	flip[8] ^= 0x40 // tensor count
	seeds["flipped-count"] = flip
	for _, tc := range corruptCases() {
		seeds["corrupt-"+tc.name] = tc.data
	}
	return seeds
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzParse from fuzzSeeds
// when GGUF_WRITE_CORPUS=1; otherwise it does nothing.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("GGUF_WRITE_CORPUS") != "1" {
		t.Skip("set GGUF_WRITE_CORPUS=1 to regenerate the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range fuzzSeeds(t) {
		name = "seed-" + string(bytes.ReplaceAll([]byte(name), []byte(" "), []byte("-")))
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzParse feeds arbitrary bytes to the reader. It must never panic; the
// in-memory and ReaderAt paths must agree; and any file it accepts must be
// rewritable, with the rewrite re-reading to the same content.
func FuzzParse(f *testing.F) {
	for _, data := range fuzzSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := OpenBytes(data)
		p, perr := Parse(bytes.NewReader(data), int64(len(data)))
		if (err == nil) != (perr == nil) {
			t.Fatalf("OpenBytes error %v, Parse error %v", err, perr)
		}
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			if err.Error() != perr.Error() {
				t.Fatalf("OpenBytes error %q, Parse error %q", err, perr)
			}
			return
		}
		if !reflect.DeepEqual(g.Keys(), p.Keys()) || !reflect.DeepEqual(g.Tensors(), p.Tensors()) {
			t.Fatal("OpenBytes and Parse disagree")
		}
		for _, k := range g.Keys() {
			g.String(k)
			g.Strings(k)
			g.Uint32(k)
			g.Int(k)
			g.Float32(k)
			g.Float32s(k)
			g.Int32s(k)
			g.Uint32s(k)
			g.Bool(k)
		}
		g.ArchUint32("block_count")
		for i, ti := range g.Tensors() {
			d, err := g.TensorDataAt(i)
			if err != nil || int64(len(d)) != ti.Size {
				t.Fatalf("tensor %q: %d bytes, Size %d, %v", ti.Name, len(d), ti.Size, err)
			}
			if ext, ok := g.TensorExtent(ti.Name); !ok || ext < ti.Size || ti.Offset+ext > g.Size()-g.DataOffset() {
				t.Fatalf("tensor %q: extent %d (%v) for %d bytes at %d of a %d-byte data section",
					ti.Name, ext, ok, ti.Size, ti.Offset, g.Size()-g.DataOffset())
			}
			pd, err := p.TensorDataAt(i)
			if err != nil || !bytes.Equal(d, pd) {
				t.Fatalf("tensor %q: Parse data differs (%v)", ti.Name, err)
			}
		}
		once := rewrite(t, g)
		h, err := OpenBytes(once)
		if err != nil {
			t.Fatalf("rewrite of an accepted file does not parse: %v", err)
		}
		if !reflect.DeepEqual(h.Keys(), g.Keys()) || h.NumTensors() != g.NumTensors() {
			t.Fatal("rewrite changed keys or tensor count")
		}
		for i := range g.NumTensors() {
			a, _ := g.TensorDataAt(i)
			b, _ := h.TensorDataAt(i)
			if !bytes.Equal(a, b) {
				t.Fatalf("rewrite changed tensor %d", i)
			}
		}
		if twice := rewrite(t, h); !bytes.Equal(once, twice) {
			t.Fatal("rewriting is not idempotent")
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := g.TensorDataAt(0); err == nil && g.NumTensors() > 0 {
			t.Fatal("TensorDataAt after Close succeeded")
		}
	})
}

func rewrite(t *testing.T, f *File) []byte {
	t.Helper()
	w, err := NewWriterFrom(f)
	if err != nil {
		t.Fatalf("NewWriterFrom on an accepted file: %v", err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	return buf.Bytes()
}

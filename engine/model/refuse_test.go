package model

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/engine/gguf"
)

// entryEdit changes one tensor's directory entry in place.
type entryEdit func(dims []uint64, typ *uint32, off *uint64)

// patchEntry copies the GGUF at src into a temporary file with the
// directory entry of tensor name rewritten by edit, leaving every data byte
// where it was: a tensor relabelled after writing, which a writer could not
// produce.
func patchEntry(t *testing.T, src, name string, edit entryEdit) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	key := binary.LittleEndian.AppendUint64(nil, uint64(len(name)))
	key = append(key, name...)
	at := bytes.Index(b, key)
	if at < 0 {
		t.Fatalf("no directory entry for %s", name)
	}
	p := at + len(key)
	nd := int(binary.LittleEndian.Uint32(b[p:]))
	dims := make([]uint64, nd)
	for i := range dims {
		dims[i] = binary.LittleEndian.Uint64(b[p+4+8*i:])
	}
	tp := p + 4 + 8*nd
	typ, off := binary.LittleEndian.Uint32(b[tp:]), binary.LittleEndian.Uint64(b[tp+4:])
	edit(dims, &typ, &off)
	for i, d := range dims {
		binary.LittleEndian.PutUint64(b[p+4+8*i:], d)
	}
	binary.LittleEndian.PutUint32(b[tp:], typ)
	binary.LittleEndian.PutUint64(b[tp+4:], off)
	return writeTemp(t, b)
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "edited.gguf")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadRefuses: a file the forward pass cannot serve is refused at load,
// within a second, with an error naming the path or the tensor, its type
// and shape; nothing is left for a request to fail on later.
func TestLoadRefuses(t *testing.T) {
	shared := sharedDir(t)
	f32 := filepath.Join(shared, "testdata", "stories260K-f32.gguf")
	qwen := filepath.Join(shared, "testdata", "tiny-qwen2-q8_0.gguf")
	dir := t.TempDir()
	fifo := makeFIFO(t, dir)
	tests := []struct {
		name string
		path func(t *testing.T) string
		want []string // substrings of the error
	}{
		{"dev zero", func(*testing.T) string { return "/dev/zero" }, []string{"/dev/zero", "not a regular file"}},
		{"dev urandom", func(*testing.T) string { return "/dev/urandom" }, []string{"/dev/urandom", "not a regular file"}},
		{"fifo", func(*testing.T) string { return fifo }, []string{fifo, "not a regular file (a named pipe)"}},
		{"directory", func(*testing.T) string { return dir }, []string{dir, "not a regular file (a directory)"}},
		{"truncated", func(t *testing.T) string {
			b, err := os.ReadFile(f32)
			if err != nil {
				t.Fatal(err)
			}
			return writeTemp(t, b[:len(b)/2])
		}, []string{"past end of file"}},
		{"retyped f32 to q8_0", func(t *testing.T) string {
			return patchEntry(t, f32, "blk.0.attn_q.weight", func(_ []uint64, typ *uint32, _ *uint64) { *typ = uint32(gguf.TensorQ8_0) })
		}, []string{"tensor blk.0.attn_q.weight: type Q8_0 shape [64 64] takes 4352 bytes, but the file stores 16384"}},
		{"retyped f32 to f16", func(t *testing.T) string {
			return patchEntry(t, f32, "blk.2.ffn_down.weight", func(_ []uint64, typ *uint32, _ *uint64) { *typ = uint32(gguf.TensorF16) })
		}, []string{"tensor blk.2.ffn_down.weight: type F16 shape [172 64]", "but the file stores"}},
		{"norm retyped to f16", func(t *testing.T) string {
			return patchEntry(t, f32, "blk.1.ffn_norm.weight", func(_ []uint64, typ *uint32, _ *uint64) { *typ = uint32(gguf.TensorF16) })
		}, []string{"tensor blk.1.ffn_norm.weight: type F16, want f32"}},
		{"reshaped norm", func(t *testing.T) string {
			return patchEntry(t, f32, "blk.0.ffn_norm.weight", func(d []uint64, _ *uint32, _ *uint64) { d[0] = 32 })
		}, []string{"tensor blk.0.ffn_norm.weight: shape [32], want [64]"}},
		{"reshaped projection", func(t *testing.T) string {
			return patchEntry(t, f32, "blk.3.attn_output.weight", func(d []uint64, _ *uint32, _ *uint64) { d[0], d[1] = 32, 128 })
		}, []string{"tensor blk.3.attn_output.weight: shape [32 128], want [64 64]"}},
		{"offset out of range", func(t *testing.T) string {
			return patchEntry(t, f32, "blk.4.ffn_up.weight", func(_ []uint64, _ *uint32, off *uint64) { *off = 1 << 40 })
		}, []string{"blk.4.ffn_up.weight", "past end of file"}},
		{"tensor the table does not name", func(t *testing.T) string {
			return rewrite(t, f32, nil, func(info gguf.TensorInfo, data []byte) (gguf.TensorInfo, []byte, bool) {
				if info.Name == "blk.0.attn_norm.weight" {
					info.Name = "blk.0.attn_q_norm.weight"
				}
				return info, data, true
			})
		}, []string{"missing tensor blk.0.attn_norm.weight"}},
		{"extra tensor", func(t *testing.T) string {
			return rewrite(t, f32, func(w *gguf.Writer) {
				_ = w.AddTensor("blk.0.attn_q_norm.weight", gguf.TensorF32, []int64{8}, make([]byte, 32))
			}, nil)
		}, []string{"tensor blk.0.attn_q_norm.weight (F32 [8]) is not part of the llama architecture's table"}},
		{"odd head dimension", func(t *testing.T) string { // 64 / 64 heads: RoPE has no pair to rotate
			return rewrite(t, f32, func(w *gguf.Writer) {
				_ = w.Set("llama.attention.head_count", uint32(64))
				w.Delete("llama.rope.dimension_count")
			}, nil)
		}, []string{"head dimension 1 (llama.embedding_length / llama.attention.head_count) is odd"}},
		{"qwen2 without a bias", func(t *testing.T) string {
			return rewrite(t, qwen, nil, func(info gguf.TensorInfo, data []byte) (gguf.TensorInfo, []byte, bool) {
				return info, data, info.Name != "blk.1.attn_k.bias"
			})
		}, []string{"missing tensor blk.1.attn_k.bias"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path(t)
			if _, err := os.Stat(path); err != nil {
				t.Skip(err)
			}
			done := make(chan error, 1)
			go func() {
				m, err := Load(path)
				if err == nil {
					_ = m.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("Load succeeded")
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
			case <-time.After(time.Second):
				t.Fatal("Load did not return within a second")
			}
		})
	}
}

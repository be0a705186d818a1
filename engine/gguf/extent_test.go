package gguf

import "testing"

// TestTensorExtent: a tensor's extent runs to the next tensor in offset
// order (not directory order), the last one's to the end of the file; a
// file written by the Writer gives every tensor its Size plus padding.
func TestTensorExtent(t *testing.T) {
	raw := rawFile{
		kvs: []rawKV{arch()},
		tensors: []rawTensor{
			{"late", []uint64{8}, uint32(TensorF32), 64}, // 32 bytes at 64, file data ends at 160
			{"early", []uint64{4}, uint32(TensorF32), 0}, // 16 bytes at 0, next at 64
		},
		dataLen: 160,
	}
	f, err := OpenBytes(raw.bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want int64
	}{{"early", 64}, {"late", 96}} {
		if got, ok := f.TensorExtent(tc.name); !ok || got != tc.want {
			t.Errorf("TensorExtent(%q) = %d, %v; want %d", tc.name, got, ok, tc.want)
		}
	}
	if _, ok := f.TensorExtent("absent"); ok {
		t.Error("TensorExtent of an absent tensor")
	}

	g, err := OpenBytes(smallFile(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range g.Tensors() {
		ext, _ := g.TensorExtent(ti.Name)
		if padded, _ := alignUp(ti.Size, g.Alignment()); ext < ti.Size || ext > padded {
			t.Errorf("tensor %s: extent %d, want in [%d, %d]", ti.Name, ext, ti.Size, padded)
		}
	}
}

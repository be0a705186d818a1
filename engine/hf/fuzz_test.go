package hf

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSafetensorsHeader: any bytes as a .safetensors file give tensors
// whose extents lie inside the file, or an error; never a panic.
func FuzzSafetensorsHeader(f *testing.F) {
	seed := func(hdr string, data int) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
		return append(append(b, hdr...), make([]byte, data)...)
	}
	f.Add(seed(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8))
	f.Add(seed(`{"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}}`, 12))
	f.Add(seed(`{"a":{"dtype":"F16","shape":[4],"data_offsets":[8,0]}}`, 8))
	f.Add(seed(`{"a":{"dtype":"F16","shape":[4611686018427387904,4],"data_offsets":[0,8]}}`, 8))
	f.Add(seed(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4))
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 255})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "x.safetensors")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fh, ts, err := openSafetensors(path)
		if err != nil {
			return
		}
		defer fh.Close()
		for _, x := range ts {
			if x.off < 8 || x.size < 0 || x.off+x.size > int64(len(b)) {
				t.Fatalf("tensor %s: extent [%d, %d) outside a %d-byte file", x.Name, x.off, x.off+x.size, len(b))
			}
			if _, err := x.read(); err != nil {
				t.Fatalf("tensor %s: %v", x.Name, err)
			}
		}
	})
}

package spill

import (
	"bytes"
	"hash/crc32"
	"os"
	"slices"
	"testing"
)

// FuzzBlockFile: whatever a block file holds, Get loads it only when it
// is exactly the file Put writes for that key, tokens and payload; any
// other content is refused, deleted and forgotten, never a panic. (The seed
// corpus runs in the normal tests; longer runs with -fuzz by hand.)
func FuzzBlockFile(f *testing.F) {
	id := testIdentity(1)
	key, toks, payload := block(0)
	hdr := id.encodeHeader(key, toks)
	valid := slices.Concat(hdr, payload, trailerFor(crc32.MakeTable(crc32.Castagnoli), hdr, payload))
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(append(slices.Clone(valid), 0))
	f.Add([]byte{})
	f.Add([]byte(fileMagic))
	flipped := slices.Clone(valid)
	flipped[len(hdr)+3] ^= 1
	f.Add(flipped)
	c, err := Open(Options{Dir: f.TempDir(), MaxBytes: 1 << 20, Logger: discardLogger()})
	if err != nil {
		f.Fatal(err)
	}
	defer c.Close()
	s, err := c.Store(id)
	if err != nil {
		f.Fatal(err)
	}
	path := blockFile(s, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		fid := fileID{s.sub, key}
		if _, ok := c.files[fid]; !ok {
			c.files[fid] = c.lru.PushBack(&fileEntry{id: fid, size: int64(len(data))})
			c.diskBytes += int64(len(data))
		}
		c.mu.Unlock()
		dst := make([]byte, id.BlockBytes)
		got := s.Get(key, toks, dst)
		want := bytes.Equal(data, valid)
		if got != want {
			t.Fatalf("Get = %v for a file that is valid: %v", got, want)
		}
		if got && !bytes.Equal(dst, payload) {
			t.Fatal("a valid file loaded other bytes")
		}
		if _, err := os.Stat(path); !got && !os.IsNotExist(err) {
			t.Fatal("a refused file was not deleted")
		}
		if !got && s.Has(key) {
			t.Fatal("a refused file is still indexed")
		}
	})
}

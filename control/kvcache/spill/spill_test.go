package spill

import (
	"bytes"
	"hash/crc32"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-llm/kiln/control/kvcache"
)

const testBlockSize = 4

// testIdentity is a small block shape; model tells identities apart.
func testIdentity(model byte) Identity {
	return Identity{Model: [32]byte{model}, Geometry: "kv=f16 block=4 layers=2", BlockSize: testBlockSize, BlockBytes: 96}
}

// block is the i-th test block: its key, tokens and payload.
func block(i int) (kvcache.BlockKey, []int32, []byte) {
	toks := []int32{int32(i), int32(i + 1), int32(i + 2), int32(i + 3)}
	payload := bytes.Repeat([]byte{byte(i), byte(i * 7)}, 48)
	return kvcache.ChainKey(kvcache.BlockKey{}, toks), toks, payload
}

// logBuffer collects log lines for counting.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func openCache(t *testing.T, o Options) (*Cache, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	if o.MaxBytes == 0 {
		o.MaxBytes = 1 << 20
	}
	c, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, logs
}

func mustStore(t *testing.T, c *Cache, id Identity) *Store {
	t.Helper()
	s, err := c.Store(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// get reads block i back, or nil.
func get(s *Store, i int) []byte {
	key, toks, _ := block(i)
	dst := make([]byte, s.Identity().BlockBytes)
	if !s.Get(key, toks, dst) {
		return nil
	}
	return dst
}

// blockFile is block i's file in s.
func blockFile(s *Store, i int) string {
	key, _, _ := block(i)
	return s.c.path(fileID{s.sub, key})
}

// TestReopenReuses: blocks put before Close are found, byte for byte,
// by a new Cache on the same directory; another identity sees none.
func TestReopenReuses(t *testing.T) {
	dir := t.TempDir()
	c, _ := openCache(t, Options{Dir: dir})
	s := mustStore(t, c, testIdentity(1))
	for i := range 3 {
		key, toks, payload := block(i)
		if !s.Put(key, toks, payload) {
			t.Fatalf("Put %d dropped", i)
		}
	}
	c.Close()
	if st := s.Stats(); st.Writes != 3 || st.WriteBytes != 3*testIdentity(1).fileLen() || st.Drops != 0 {
		t.Errorf("stats after 3 writes: %+v", st)
	}

	c2, _ := openCache(t, Options{Dir: dir})
	s2 := mustStore(t, c2, testIdentity(1))
	other := mustStore(t, c2, testIdentity(2))
	for i := range 3 {
		key, _, payload := block(i)
		if !s2.Has(key) || !bytes.Equal(get(s2, i), payload) {
			t.Errorf("block %d not read back after reopening", i)
		}
		if other.Has(key) || get(other, i) != nil {
			t.Errorf("block %d visible to another identity", i)
		}
	}
	if st := s2.Stats(); st.Reads != 3 || st.Errors != 0 {
		t.Errorf("stats after 3 reads: %+v", st)
	}
	if got, want := c2.DiskBytes(), 3*testIdentity(1).fileLen(); got != want {
		t.Errorf("DiskBytes = %d, want %d", got, want)
	}
	// The wrong tokens for a key never load.
	key, toks, _ := block(0)
	toks = slices.Clone(toks)
	toks[3]++
	if s2.Get(key, toks, make([]byte, 96)) {
		t.Error("a file loaded for other tokens than its own")
	}
}

// TestBadFilesAreDeleted: a corrupt, truncated, lengthened, foreign or
// unreadable file is never loaded: Get misses, the file is gone, one line
// is logged and one error counted.
func TestBadFilesAreDeleted(t *testing.T) {
	id := testIdentity(1)
	foreign := testIdentity(9)
	cases := []struct {
		name  string
		spoil func(t *testing.T, path string)
	}{
		{"payload byte flipped", func(t *testing.T, p string) { flipByte(t, p, id.headerLen()+5) }},
		{"header byte flipped", func(t *testing.T, p string) { flipByte(t, p, len(fileMagic)+4+3) }},
		{"checksum flipped", func(t *testing.T, p string) { flipByte(t, p, int(id.fileLen())-1) }},
		{"truncated", func(t *testing.T, p string) {
			if err := os.Truncate(p, id.fileLen()-10); err != nil {
				t.Fatal(err)
			}
		}},
		{"lengthened", func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = f.Write([]byte{0})
			_ = f.Close()
		}},
		{"another model's file", func(t *testing.T, p string) {
			key, toks, payload := block(0)
			hdr := foreign.encodeHeader(key, toks)
			raw := slices.Concat(hdr, payload, trailerFor(crc32.MakeTable(crc32.Castagnoli), hdr, payload))
			if err := os.WriteFile(p, raw, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"unreadable", func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c, _ := openCache(t, Options{Dir: dir})
			s := mustStore(t, c, id)
			key, toks, payload := block(0)
			s.Put(key, toks, payload)
			c.Close()

			c2, logs := openCache(t, Options{Dir: dir})
			s2 := mustStore(t, c2, id)
			path := blockFile(s2, 0)
			tc.spoil(t, path)
			if got := get(s2, 0); got != nil {
				t.Fatal("a spoilt file was loaded")
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("the spoilt file is still there (stat: %v)", err)
			}
			if s2.Has(key) || get(s2, 0) != nil {
				t.Error("the spoilt block is still indexed")
			}
			if n := logs.count("ignored and deleted"); n != 1 {
				t.Errorf("%d log lines, want 1", n)
			}
			if st := s2.Stats(); st.Errors != 1 || st.Reads != 0 {
				t.Errorf("stats: %+v, want one error, no read", st)
			}
			if c2.DiskBytes() != 0 {
				t.Errorf("DiskBytes = %d after the only file went", c2.DiskBytes())
			}
		})
	}
}

func flipByte(t *testing.T, path string, off int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw[off] ^= 0x10
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// discardLogger drops every line.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

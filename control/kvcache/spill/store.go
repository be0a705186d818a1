package spill

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/kiln-llm/kiln/control/kvcache"
)

// Stats are one Store's counters.
type Stats struct {
	Writes     int64 // block files written
	WriteBytes int64 // their bytes
	Drops      int64 // blocks not kept: the writer's queue was full, or spilling is off after a write failure
	Reads      int64 // blocks read back (RAM or file) and handed to a caller
	ReadBytes  int64 // their bytes (a file's whole size, or a RAM block's payload)
	Errors     int64 // files refused (corrupt, truncated, mismatched, unreadable) and writes that failed
}

// counters are Stats as they accumulate.
type counters struct {
	writes, writeBytes, drops, reads, readBytes, errors atomic.Int64
}

// Store is one model's view of a Cache (see Cache.Store). Safe for
// concurrent use.
type Store struct {
	c   *Cache
	id  Identity
	sub string
	n   counters
}

// Dir is the subdirectory holding the store's block files.
func (s *Store) Dir() string { return filepath.Join(s.c.opts.Dir, s.sub) }

// Identity is what the store's blocks were computed with.
func (s *Store) Identity() Identity { return s.id }

// Stats is a snapshot of s's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Writes: s.n.writes.Load(), WriteBytes: s.n.writeBytes.Load(), Drops: s.n.drops.Load(),
		Reads: s.n.reads.Load(), ReadBytes: s.n.readBytes.Load(), Errors: s.n.errors.Load(),
	}
}

// Has reports whether key's block is kept (in RAM or indexed on disk): a
// caller about to Put it can skip copying it.
func (s *Store) Has(key kvcache.BlockKey) bool {
	id := fileID{s.sub, key}
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	_, onDisk := s.c.files[id]
	return onDisk || s.c.ram.has(id)
}

// Put keeps the block key (its tokens and its K/V bytes payload, which s
// owns from now on) without waiting: into the RAM tier, or else to the
// writer's queue. False when it was dropped (queue full, spilling off, or a
// block of the wrong size).
func (s *Store) Put(key kvcache.BlockKey, tokens []int32, payload []byte) bool {
	return s.put(key, tokens, payload, false)
}

// PutWait is Put waiting for room in the writer's queue instead of
// dropping: for a shutdown that saves the whole pool.
func (s *Store) PutWait(key kvcache.BlockKey, tokens []int32, payload []byte) bool {
	return s.put(key, tokens, payload, true)
}

// Offer keeps the block key like Put (PutWait if wait), its K/V bytes
// filled by read into a buffer the store then owns; read is called only if
// the block would be kept, so a caller copying out of a busy pool copies
// nothing that the full queue would drop. False if dropped or read failed.
func (s *Store) Offer(key kvcache.BlockKey, tokens []int32, wait bool, read func(dst []byte) error) bool {
	if !wait && !s.accepts() {
		s.n.drops.Add(1)
		return false
	}
	buf := make([]byte, s.id.BlockBytes)
	if err := read(buf); err != nil {
		return false
	}
	return s.put(key, tokens, buf, wait)
}

// accepts reports whether a Put now would keep a block: room in the RAM
// tier or in the writer's queue, spilling not off.
func (s *Store) accepts() bool {
	c := s.c
	if c.opts.RAMBytes >= int64(s.id.BlockBytes) {
		return true
	}
	c.mu.Lock()
	off := c.writeOff
	c.mu.Unlock()
	return !off && c.q.room(int64(s.id.BlockBytes))
}

func (s *Store) put(key kvcache.BlockKey, tokens []int32, payload []byte, wait bool) bool {
	if len(payload) != s.id.BlockBytes || !s.id.validTokens(tokens) {
		s.n.drops.Add(1)
		return false
	}
	j := job{st: s, key: key, tokens: tokens, payload: payload}
	c := s.c
	if c.opts.RAMBytes > 0 {
		c.mu.Lock()
		out := c.ram.put(fileID{s.sub, key}, j, c.opts.RAMBytes)
		c.mu.Unlock()
		kept := true
		for _, o := range out {
			if !c.enqueue(o, wait) {
				kept = kept && o.key != key
			}
		}
		return kept
	}
	return c.enqueue(j, wait)
}

// enqueue hands j to the writer, counting a drop on j's store if it cannot.
func (c *Cache) enqueue(j job, wait bool) bool {
	c.mu.Lock()
	off := c.writeOff
	c.mu.Unlock()
	if off || !c.q.push(j, wait) {
		j.st.n.drops.Add(1)
		return false
	}
	return true
}

// Get fills dst (BlockBytes long) with key's K/V if s keeps it and tokens
// are the block's tokens: from the RAM tier, else from its file, which is
// read whole and verified first. A file that fails verification or cannot
// be read is logged, deleted and forgotten; Get then returns false and the
// caller recomputes the block (dst may hold garbage: use it only on true).
// It reads from disk: call it off the step loop.
func (s *Store) Get(key kvcache.BlockKey, tokens []int32, dst []byte) bool {
	if len(dst) != s.id.BlockBytes || !s.id.validTokens(tokens) {
		return false
	}
	c := s.c
	id := fileID{s.sub, key}
	c.mu.Lock()
	if c.ram.get(id, dst) {
		c.mu.Unlock()
		s.n.reads.Add(1)
		s.n.readBytes.Add(int64(len(dst)))
		return true
	}
	_, indexed := c.files[id]
	c.mu.Unlock()
	if !indexed {
		return false
	}
	path := c.path(id)
	err := s.readFile(path, key, tokens, dst)
	if err == nil {
		now := time.Now()
		_ = os.Chtimes(path, now, now) // the LRU order survives a restart
		c.mu.Lock()
		if el, ok := c.files[id]; ok {
			c.lru.MoveToBack(el)
		}
		c.mu.Unlock()
		s.n.reads.Add(1)
		s.n.readBytes.Add(s.id.fileLen())
		return true
	}
	c.forget(id)
	if errors.Is(err, fs.ErrNotExist) {
		return false // evicted meanwhile (or removed by hand): a plain miss
	}
	s.n.errors.Add(1)
	rmErr := os.Remove(path)
	c.log.Warn("prefix cache: spilled block ignored and deleted; it will be recomputed", "file", path, "err", err, "remove_err", rmErr)
	return false
}

// forget drops id from the index.
func (c *Cache) forget(id fileID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.files[id]; ok {
		c.diskBytes -= el.Value.(*fileEntry).size
		c.lru.Remove(el)
		delete(c.files, id)
	}
}

// readFile reads path into dst and verifies it as key's block of tokens.
func (s *Store) readFile(path string, key kvcache.BlockKey, tokens []int32, dst []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if want := s.id.fileLen(); st.Size() != want {
		return fmt.Errorf("%w: %d bytes, want %d (truncated or of another shape)", errBadFile, st.Size(), want)
	}
	hdr := make([]byte, s.id.headerLen())
	var trailer [4]byte
	for _, b := range [][]byte{hdr, dst, trailer[:]} {
		if _, err := io.ReadFull(f, b); err != nil {
			return fmt.Errorf("%w: %w", errBadFile, err)
		}
	}
	return s.id.checkFile(s.c.table, hdr, dst, trailer[:], key, tokens)
}

// Reserve claims n bytes of the read-ahead budget (blocks read for a
// request before it is admitted); false if they do not fit. Release them
// when the blocks are used or dropped.
func (s *Store) Reserve(n int64) bool {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readAhead+n > c.opts.ReadAheadBytes {
		return false
	}
	c.readAhead += n
	return true
}

// Release returns n bytes of the read-ahead budget.
func (s *Store) Release(n int64) {
	c := s.c
	c.mu.Lock()
	c.readAhead -= n
	c.mu.Unlock()
}

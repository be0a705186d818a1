package spill

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kiln-llm/kiln/control/kvcache"
)

// Options configure a Cache.
type Options struct {
	// Dir holds the block files; it is created if missing.
	Dir string
	// MaxBytes bounds the files in Dir (every model's); the least recently
	// used go first. > 0.
	MaxBytes int64
	// RAMBytes is a tier in memory before the files (0: none): evicted
	// blocks stay there until it is full, then move to Dir.
	RAMBytes int64
	// QueueBytes bounds the blocks waiting for the writer (default 64 MiB);
	// a block that does not fit is dropped.
	QueueBytes int64
	// ReadAheadBytes bounds the blocks read for requests not yet admitted
	// (default 256 MiB).
	ReadAheadBytes int64
	// Logger receives the few lines spilling writes (nil: slog.Default()).
	Logger *slog.Logger
}

// Cache is one spill directory: the index of its files (every model's),
// their LRU order and byte budget, the RAM tier and the writer. It is safe
// for concurrent use. Close it to write out what is queued or in RAM.
type Cache struct {
	opts  Options
	log   *slog.Logger
	table *crc32.Table

	mu        sync.Mutex
	files     map[fileID]*list.Element // value *fileEntry
	lru       *list.List               // front: least recently used
	diskBytes int64
	ram       ramTier
	readAhead int64 // bytes reserved by Reserve
	writeOff  bool  // a write failed: no more spilling

	q    queue
	done chan struct{} // closed when the writer has exited
}

// fileID names one block file: its model's subdirectory and its key.
type fileID struct {
	sub string
	key kvcache.BlockKey
}

// fileEntry is one indexed file.
type fileEntry struct {
	id   fileID
	size int64
}

// Open opens (creating it if needed) the directory of o.Dir, checks that
// it can be written, indexes the block files already there (removing
// leftover temporary files) and starts the writer. Its errors are start-up
// errors: the directory cannot be made or written.
func Open(o Options) (*Cache, error) {
	if o.Dir == "" {
		return nil, errors.New("spill: no directory")
	}
	if o.MaxBytes <= 0 {
		return nil, fmt.Errorf("spill: max bytes %d: want > 0", o.MaxBytes)
	}
	if o.RAMBytes < 0 {
		return nil, fmt.Errorf("spill: RAM bytes %d: want >= 0", o.RAMBytes)
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 64 << 20
	}
	if o.ReadAheadBytes <= 0 {
		o.ReadAheadBytes = 256 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	if err := probeWrite(o.Dir); err != nil {
		return nil, fmt.Errorf("spill: directory %s cannot be written: %w", o.Dir, err)
	}
	c := &Cache{
		opts: o, log: o.Logger, table: crc32.MakeTable(crc32.Castagnoli),
		files: map[fileID]*list.Element{}, lru: list.New(),
		done: make(chan struct{}),
	}
	c.ram.init()
	c.q.init(o.QueueBytes)
	if err := c.scan(); err != nil {
		return nil, err
	}
	c.log.Info("prefix cache: spill directory indexed", "dir", o.Dir, "files", c.lru.Len(), "bytes", c.diskBytes,
		"max_bytes", o.MaxBytes, "ram_bytes", o.RAMBytes)
	go c.writer()
	return c, nil
}

// probeWrite creates, writes and removes a file in dir.
func probeWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	_, werr := f.Write([]byte("kiln"))
	cerr := f.Close()
	rerr := os.Remove(f.Name())
	return errors.Join(werr, cerr, rerr)
}

// scan indexes the block files of every subdirectory, oldest first, and
// trims the index to MaxBytes.
func (c *Cache) scan() error {
	subs, err := os.ReadDir(c.opts.Dir)
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	type found struct {
		e     fileEntry
		mtime time.Time
	}
	var all []found
	for _, sd := range subs {
		if !sd.IsDir() || !isSubdirName(sd.Name()) {
			continue
		}
		dir := filepath.Join(c.opts.Dir, sd.Name())
		ents, err := os.ReadDir(dir)
		if err != nil {
			c.log.Warn("prefix cache: spill subdirectory skipped", "dir", dir, "err", err)
			continue
		}
		for _, de := range ents {
			name := de.Name()
			if strings.HasSuffix(name, ".tmp") {
				_ = os.Remove(filepath.Join(dir, name)) // a write cut short by an earlier process
				continue
			}
			key, ok := parseFileName(name)
			if !ok || !de.Type().IsRegular() {
				continue
			}
			info, err := de.Info()
			if err != nil {
				continue
			}
			all = append(all, found{fileEntry{fileID{sd.Name(), key}, info.Size()}, info.ModTime()})
		}
	}
	slices.SortFunc(all, func(a, b found) int { return a.mtime.Compare(b.mtime) })
	c.mu.Lock()
	for _, f := range all {
		c.files[f.e.id] = c.lru.PushBack(&fileEntry{id: f.e.id, size: f.e.size})
		c.diskBytes += f.e.size
	}
	victims := c.trimLocked()
	c.mu.Unlock()
	c.removeFiles(victims)
	return nil
}

// trimLocked drops the least recently used files from the index until the
// budget holds, returning them for removeFiles.
func (c *Cache) trimLocked() []fileID {
	var out []fileID
	for c.diskBytes > c.opts.MaxBytes && c.lru.Len() > 0 {
		e := c.lru.Remove(c.lru.Front()).(*fileEntry)
		delete(c.files, e.id)
		c.diskBytes -= e.size
		out = append(out, e.id)
	}
	return out
}

// removeFiles deletes files already dropped from the index.
func (c *Cache) removeFiles(ids []fileID) {
	for _, id := range ids {
		if err := os.Remove(c.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("prefix cache: could not remove a spilled block", "file", c.path(id), "err", err)
		}
	}
}

// path is id's file.
func (c *Cache) path(id fileID) string {
	return filepath.Join(c.opts.Dir, id.sub, hex.EncodeToString(id.key[:])+fileExt)
}

// subdirName is the subdirectory of identity id: a hash of all of it.
func subdirName(id Identity) string {
	h := sha256.New()
	fmt.Fprintf(h, "%x|%s|%d|%d|v%d", id.Model, id.Geometry, id.BlockSize, id.BlockBytes, formatVersion)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func isSubdirName(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 16
}

// parseFileName is the key of a block file's name.
func parseFileName(name string) (kvcache.BlockKey, bool) {
	var k kvcache.BlockKey
	h, ok := strings.CutSuffix(name, fileExt)
	if !ok || len(h) != 2*len(k) {
		return k, false
	}
	if _, err := hex.Decode(k[:], []byte(h)); err != nil {
		return k, false
	}
	return k, true
}

// Store is the part of c for one model (identity id), made at once with
// its subdirectory. Each caller (e.g. each engine replica) may take its own
// Store of one identity: they share the files, each counts its own Stats.
func (c *Cache) Store(id Identity) (*Store, error) {
	if err := id.validate(); err != nil {
		return nil, err
	}
	sub := subdirName(id)
	if err := os.MkdirAll(filepath.Join(c.opts.Dir, sub), 0o755); err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	return &Store{c: c, id: id, sub: sub}, nil
}

// DiskBytes is the size of the indexed files.
func (c *Cache) DiskBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.diskBytes
}

// Close moves the RAM tier to the writer, waits for every queued write and
// stops the writer. Puts after Close are dropped. Idempotent.
func (c *Cache) Close() {
	for _, e := range c.ram.drain(&c.mu) {
		c.q.push(e, true)
	}
	c.q.close()
	<-c.done
}

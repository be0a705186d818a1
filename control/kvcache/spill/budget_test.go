package spill

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestBudgetEvictsLeastRecentlyUsed: the directory stays within MaxBytes by
// deleting the least recently used files, a hit counts as a use, and the
// order survives a restart (file times).
func TestBudgetEvictsLeastRecentlyUsed(t *testing.T) {
	id := testIdentity(1)
	dir := t.TempDir()
	c, _ := openCache(t, Options{Dir: dir, MaxBytes: 3 * id.fileLen()})
	s := mustStore(t, c, id)
	put := func(i int) {
		key, toks, payload := block(i)
		if !s.PutWait(key, toks, payload) {
			t.Fatalf("block %d dropped", i)
		}
	}
	for i := range 3 {
		put(i)
	}
	c.Close() // flushes
	// Distinct file times, oldest block 0.
	base := time.Now().Add(-time.Hour)
	for i := range 3 {
		tm := base.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(blockFile(s, i), tm, tm); err != nil {
			t.Fatal(err)
		}
	}
	c2, _ := openCache(t, Options{Dir: dir, MaxBytes: 3 * id.fileLen()})
	s2 := mustStore(t, c2, id)
	s = s2
	if get(s2, 0) == nil { // block 0 becomes the most recently used
		t.Fatal("block 0 missing")
	}
	put(3) // evicts block 1, the least recently used now
	c2.Close()
	for i, want := range []bool{true, false, true, true} {
		_, err := os.Stat(blockFile(s2, i))
		if got := err == nil; got != want {
			t.Errorf("block %d on disk: %v, want %v", i, got, want)
		}
	}
	// A smaller budget at start-up trims at once, oldest first (block 2
	// now: 0 was touched, 3 written last).
	c3, _ := openCache(t, Options{Dir: dir, MaxBytes: 2 * id.fileLen()})
	s3 := mustStore(t, c3, id)
	for i, want := range []bool{true, false, false, true} {
		key, _, _ := block(i)
		if got := s3.Has(key); got != want {
			t.Errorf("after trimming, block %d kept: %v, want %v", i, got, want)
		}
	}
	if c3.DiskBytes() != 2*id.fileLen() {
		t.Errorf("DiskBytes %d, want %d", c3.DiskBytes(), 2*id.fileLen())
	}
}

// TestQueueBound: a push that does not fit is refused at once, or waits
// for the writer to finish a job; a job always fits an empty queue.
func TestQueueBound(t *testing.T) {
	var q queue
	q.init(100)
	j := func(n int) job { return job{payload: make([]byte, n)} }
	if !q.push(j(150), false) {
		t.Fatal("a job larger than the bound was refused by an empty queue")
	}
	if q.push(j(10), false) {
		t.Fatal("a job beyond the bound was queued")
	}
	got, _ := q.pop()
	q.finished(len(got.payload))
	if !q.push(j(60), false) || q.push(j(60), false) {
		t.Fatal("60 + 60 bytes in a 100-byte queue")
	}
	pushed := make(chan bool)
	go func() { pushed <- q.push(j(60), true) }()
	select {
	case <-pushed:
		t.Fatal("a waiting push returned before there was room")
	case <-time.After(50 * time.Millisecond):
	}
	got, _ = q.pop()
	q.finished(len(got.payload))
	if !<-pushed {
		t.Fatal("the waiting push failed")
	}
	q.close()
	if q.push(j(1), true) {
		t.Error("a push after close succeeded")
	}
	if _, ok := q.pop(); !ok {
		t.Error("pop after close lost a queued job")
	}
	if _, ok := q.pop(); ok {
		t.Error("pop of a closed, empty queue returned a job")
	}
}

// TestWriteFailureStopsSpilling: when a write fails the cache logs once,
// counts an error, drops every later block and keeps serving what it has.
func TestWriteFailureStopsSpilling(t *testing.T) {
	id := testIdentity(1)
	c, logs := openCache(t, Options{Dir: t.TempDir()})
	s := mustStore(t, c, id)
	key, toks, payload := block(0)
	s.PutWait(key, toks, payload)
	// The model's subdirectory becomes a file: every create in it fails.
	sub := filepath.Dir(blockFile(s, 0))
	waitFor(t, func() bool { return s.Stats().Writes == 1 })
	keep, err := os.ReadFile(blockFile(s, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(sub); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sub, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		k, tk, p := block(i)
		s.PutWait(k, tk, p)
	}
	// The writer counts the failure before it logs it: wait for both.
	waitFor(t, func() bool { st := s.Stats(); return st.Errors+st.Drops == 4 && logs.count("spilling is off") > 0 })
	if n := logs.count("spilling is off"); n != 1 {
		t.Errorf("%d log lines about the failure, want 1", n)
	}
	if st := s.Stats(); st.Errors != 1 || st.Drops != 3 || st.Writes != 1 {
		t.Errorf("stats %+v: want 1 write, 1 error, 3 drops", st)
	}
	k, tk, p := block(5)
	if s.Put(k, tk, p) {
		t.Error("Put accepted a block after spilling went off")
	}
	// Reads still work where files can be read.
	if err := os.Remove(sub); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blockFile(s, 0), keep, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := get(s, 0); !bytes.Equal(got, payload) {
		t.Error("a kept block could not be read after spilling went off")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRAMTier: blocks stay in RAM up to RAMBytes and overflow, oldest
// first, to files; Close writes the RAM tier out, so a restart finds all.
func TestRAMTier(t *testing.T) {
	id := testIdentity(1)
	dir := t.TempDir()
	c, _ := openCache(t, Options{Dir: dir, RAMBytes: 2 * int64(id.BlockBytes)})
	s := mustStore(t, c, id)
	for i := range 3 {
		key, toks, payload := block(i)
		if !s.Put(key, toks, payload) {
			t.Fatalf("block %d dropped", i)
		}
	}
	waitFor(t, func() bool { return s.Stats().Writes == 1 }) // block 0 overflowed to disk
	if _, err := os.Stat(blockFile(s, 0)); err != nil {
		t.Errorf("the oldest block is not on disk: %v", err)
	}
	for i := range 3 {
		_, _, payload := block(i)
		if !bytes.Equal(get(s, i), payload) {
			t.Errorf("block %d not read back", i)
		}
	}
	c.Close()
	c2, _ := openCache(t, Options{Dir: dir})
	s2 := mustStore(t, c2, id)
	for i := range 3 {
		_, _, payload := block(i)
		if !bytes.Equal(get(s2, i), payload) {
			t.Errorf("block %d not on disk after Close", i)
		}
	}
}

// TestOpenErrors: a directory that cannot be made is a start-up error;
// leftover temporary files are removed; foreign files are left alone.
func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, filepath.Join(file, "sub"), ""} {
		if c, err := Open(Options{Dir: dir, MaxBytes: 1 << 20}); err == nil {
			c.Close()
			t.Errorf("Open(%q) succeeded", dir)
		}
	}
	if _, err := Open(Options{Dir: t.TempDir()}); err == nil {
		t.Error("Open with no byte budget succeeded")
	}
	dir := t.TempDir()
	c, _ := openCache(t, Options{Dir: dir})
	s := mustStore(t, c, testIdentity(1))
	sub := filepath.Dir(blockFile(s, 0))
	c.Close()
	tmp, mine := filepath.Join(sub, "123.tmp"), filepath.Join(sub, "README")
	for _, p := range []string{tmp, mine} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c2, _ := openCache(t, Options{Dir: dir})
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Error("a leftover temporary file survived Open")
	}
	if _, err := os.Stat(mine); err != nil {
		t.Error("Open removed a file that is not its own")
	}
	if c2.DiskBytes() != 0 {
		t.Errorf("foreign files indexed: %d bytes", c2.DiskBytes())
	}
}

// TestReserve: the read-ahead budget is shared and returned.
func TestReserve(t *testing.T) {
	c, _ := openCache(t, Options{Dir: t.TempDir(), ReadAheadBytes: 100})
	a, b := mustStore(t, c, testIdentity(1)), mustStore(t, c, testIdentity(2))
	if !a.Reserve(60) || b.Reserve(60) {
		t.Fatal("60 + 60 bytes of a 100-byte budget")
	}
	a.Release(60)
	if !b.Reserve(100) {
		t.Fatal("the released budget was not returned")
	}
}

// TestOfferSkipsWhatWouldDrop: with the writer's queue full, Offer counts
// a drop without reading the block; with room it reads and keeps it.
func TestOfferSkipsWhatWouldDrop(t *testing.T) {
	id := testIdentity(1)
	c, _ := openCache(t, Options{Dir: t.TempDir(), QueueBytes: int64(id.BlockBytes)})
	s := mustStore(t, c, id)
	key, toks, payload := block(0)
	reads := 0
	read := func(dst []byte) error {
		reads++
		copy(dst, payload)
		return nil
	}
	c.q.mu.Lock()
	c.q.bytes = c.q.max // as if a block were being written
	c.q.mu.Unlock()
	if s.Offer(key, toks, false, read) || reads != 0 || s.Stats().Drops != 1 {
		t.Fatalf("full queue: kept or read (%d reads, %+v)", reads, s.Stats())
	}
	c.q.finished(int(c.q.max))
	if !s.Offer(key, toks, false, read) || reads != 1 {
		t.Fatalf("queue with room: not kept (%d reads)", reads)
	}
	waitFor(t, func() bool { return s.Stats().Writes == 1 })
	if !bytes.Equal(get(s, 0), payload) {
		t.Error("the offered block reads back differently")
	}
}

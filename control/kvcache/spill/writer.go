package spill

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/kiln-llm/kiln/control/kvcache"
)

// job is one block for the writer.
type job struct {
	st      *Store
	key     kvcache.BlockKey
	tokens  []int32
	payload []byte
}

// queue is the writer's inbox, bounded in payload bytes: the bytes of a job
// count until the writer has finished it.
type queue struct {
	mu     sync.Mutex
	cond   sync.Cond
	jobs   []job
	bytes  int64
	max    int64
	closed bool
}

func (q *queue) init(max int64) {
	q.cond.L = &q.mu
	q.max = max
}

// push queues j; when it does not fit, it waits for room if wait is set,
// else it returns false at once. A job always fits an empty queue. After
// close it returns false.
func (q *queue) push(j job, wait bool) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := int64(len(j.payload))
	for !q.closed && q.bytes > 0 && q.bytes+n > q.max {
		if !wait {
			return false
		}
		q.cond.Wait()
	}
	if q.closed {
		return false
	}
	q.jobs = append(q.jobs, j)
	q.bytes += n
	q.cond.Broadcast()
	return true
}

// room reports whether a job of n bytes would be queued now.
func (q *queue) room(n int64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.closed && (q.bytes == 0 || q.bytes+n <= q.max)
}

// pop takes the oldest job, waiting for one; false once closed and empty.
func (q *queue) pop() (job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.jobs) == 0 && !q.closed {
		q.cond.Wait()
	}
	if len(q.jobs) == 0 {
		return job{}, false
	}
	j := q.jobs[0]
	q.jobs[0] = job{}
	q.jobs = q.jobs[1:]
	return j, true
}

// finished releases a popped job's bytes.
func (q *queue) finished(n int) {
	q.mu.Lock()
	q.bytes -= int64(n)
	q.cond.Broadcast()
	q.mu.Unlock()
}

// close stops new pushes; pop still drains what is queued.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// writer writes queued blocks until the queue is closed and drained.
func (c *Cache) writer() {
	defer close(c.done)
	for {
		j, ok := c.q.pop()
		if !ok {
			return
		}
		c.write(j)
		c.q.finished(len(j.payload))
	}
}

// write makes j's file (unless it exists), indexes it and trims the
// directory to its budget. The first failure turns spilling off.
func (c *Cache) write(j job) {
	id := fileID{j.st.sub, j.key}
	c.mu.Lock()
	off := c.writeOff
	_, exists := c.files[id]
	c.mu.Unlock()
	switch {
	case off:
		j.st.n.drops.Add(1)
		return
	case exists:
		return
	}
	size, err := c.writeFile(id, j)
	if err != nil {
		c.mu.Lock()
		first := !c.writeOff
		c.writeOff = true
		c.mu.Unlock()
		j.st.n.errors.Add(1)
		if first {
			c.log.Error("prefix cache: writing a spilled block failed; spilling is off until restart (blocks already spilled are still used)",
				"dir", c.opts.Dir, "err", err)
		}
		return
	}
	c.mu.Lock()
	if el, ok := c.files[id]; ok { // cannot happen with one writer; keep the index exact anyway
		c.diskBytes -= el.Value.(*fileEntry).size
		c.lru.Remove(el)
	}
	c.files[id] = c.lru.PushBack(&fileEntry{id: id, size: size})
	c.diskBytes += size
	victims := c.trimLocked()
	c.mu.Unlock()
	c.removeFiles(victims)
	j.st.n.writes.Add(1)
	j.st.n.writeBytes.Add(size)
}

// writeFile writes j to a temporary file beside id's and renames it into
// place, so a reader never sees part of a file.
func (c *Cache) writeFile(id fileID, j job) (int64, error) {
	hdr := j.st.id.encodeHeader(j.key, j.tokens)
	final := c.path(id)
	f, err := os.CreateTemp(filepath.Dir(final), "*.tmp")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	var size int64
	for _, b := range [][]byte{hdr, j.payload, trailerFor(c.table, hdr, j.payload)} {
		if err == nil {
			var n int
			n, err = f.Write(b)
			size += int64(n)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("spill: write %s: %w", final, err)
	}
	return size, nil
}

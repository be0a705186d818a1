package spill

import (
	"container/list"
	"sync"
)

// ramTier keeps spilled blocks in memory, least recently used first out
// (to the writer). Guarded by Cache.mu.
type ramTier struct {
	entries map[fileID]*list.Element // value job
	lru     *list.List
	bytes   int64
}

func (r *ramTier) init() {
	r.entries = map[fileID]*list.Element{}
	r.lru = list.New()
}

// put adds j under id and returns what no longer fits in max bytes, oldest
// first; j itself if it alone is larger than max.
func (r *ramTier) put(id fileID, j job, max int64) []job {
	if int64(len(j.payload)) > max {
		return []job{j}
	}
	if _, ok := r.entries[id]; ok {
		return nil
	}
	r.entries[id] = r.lru.PushBack(j)
	r.bytes += int64(len(j.payload))
	var out []job
	for r.bytes > max {
		old := r.lru.Remove(r.lru.Front()).(job)
		delete(r.entries, fileID{old.st.sub, old.key})
		r.bytes -= int64(len(old.payload))
		out = append(out, old)
	}
	return out
}

// get copies id's payload into dst and marks it recently used; false if
// the tier does not hold id.
func (r *ramTier) get(id fileID, dst []byte) bool {
	el, ok := r.entries[id]
	if !ok {
		return false
	}
	r.lru.MoveToBack(el)
	copy(dst, el.Value.(job).payload)
	return true
}

func (r *ramTier) has(id fileID) bool {
	_, ok := r.entries[id]
	return ok
}

// drain empties the tier (under mu), oldest first.
func (r *ramTier) drain(mu *sync.Mutex) []job {
	mu.Lock()
	defer mu.Unlock()
	out := make([]job, 0, r.lru.Len())
	for r.lru.Len() > 0 {
		out = append(out, r.lru.Remove(r.lru.Front()).(job))
	}
	clear(r.entries)
	r.bytes = 0
	return out
}

package grammar

// u64map is an open-addressing hash map from uint64 keys to int32 values
// that empties in O(1): a slot is live only if its stamp is the current
// epoch. A step uses a fresh map, and a Mask runs many thousands of steps,
// so clearing must not cost the map's capacity each time.
type u64map struct {
	keys  []uint64
	vals  []int32
	stamp []uint32
	epoch uint32
	n     int
}

// shrinkAbove is the capacity past which reset frees a table: a
// pathological step may grow it, the next ordinary ones need not hold it.
const shrinkAbove = 1 << 16

func (m *u64map) reset() {
	m.n = 0
	if len(m.keys) > shrinkAbove {
		*m = u64map{}
	}
	m.epoch++
	if m.epoch == 0 { // wrapped: stale stamps could look live
		clear(m.stamp)
		m.epoch = 1
	}
}

func slotOf(k uint64, mask int) int {
	return int((k*0x9E3779B97F4A7C15)>>32) & mask
}

func (m *u64map) get(k uint64) (int32, bool) {
	if len(m.keys) == 0 {
		return 0, false
	}
	mask := len(m.keys) - 1
	for i := slotOf(k, mask); ; i = (i + 1) & mask {
		if m.stamp[i] != m.epoch {
			return 0, false
		}
		if m.keys[i] == k {
			return m.vals[i], true
		}
	}
}

// put sets k to v; k must not be present.
func (m *u64map) put(k uint64, v int32) {
	if 2*(m.n+1) > len(m.keys) {
		m.grow()
	}
	mask := len(m.keys) - 1
	i := slotOf(k, mask)
	for m.stamp[i] == m.epoch {
		i = (i + 1) & mask
	}
	m.keys[i], m.vals[i], m.stamp[i] = k, v, m.epoch
	m.n++
}

func (m *u64map) grow() {
	old := *m
	size := max(64, 2*len(old.keys))
	m.keys, m.vals, m.stamp = make([]uint64, size), make([]int32, size), make([]uint32, size)
	m.n, m.epoch = 0, 1
	for i, s := range old.stamp {
		if s == old.epoch && old.epoch != 0 {
			m.put(old.keys[i], old.vals[i])
		}
	}
}

// u64set is a set of uint64 keys with the same O(1) reset.
type u64set struct{ m u64map }

func (s *u64set) reset() { s.m.reset() }

// insert adds k and reports whether it was absent.
func (s *u64set) insert(k uint64) bool {
	if _, ok := s.m.get(k); ok {
		return false
	}
	s.m.put(k, 0)
	return true
}

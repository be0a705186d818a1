package kvcache

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// simSeq is the test's model of one sequence: what it has committed and
// what its reserved slots will hold.
type simSeq struct {
	s       *Seq
	toks    []int32  // committed tokens, positions 0..
	keys    []string // keys[i]: the whole prefix toks[:i+1], what a correct K/V slot i encodes
	pending []int32  // tokens for the reserved, uncommitted slots, in order
}

// sim drives a Pool like the scheduler and engine would, with a fake K/V
// store in which every slot holds the exact token prefix it was computed
// from, so any wrong sharing, missed copy or false hit shows up as a
// mismatch.
type sim struct {
	t    *testing.T
	rng  *rand.Rand
	p    *Pool
	bs   int
	kv   []string // [NumBlocks*BlockSize]
	live []*simSeq
	// spilled is the fake K/V of every evicted block by key, as a spill
	// store keeps it (KeepEvicted runs); admit loads from it as the
	// engine does.
	spilled map[BlockKey][]string
	loaded  int // blocks load brought back
}

// drain takes the evicted blocks, as the engine does before anything
// overwrites them, and checks each one's key and tokens against the K/V it
// holds: the key must name exactly the prefix computed into the block.
func (m *sim) drain() {
	if m.spilled == nil {
		return
	}
	for _, e := range m.p.TakeEvicted(nil) {
		slots := slices.Clone(m.kv[int(e.Block)*m.bs : int(e.Block+1)*m.bs])
		prefix := []rune(slots[m.bs-1])
		toks := make([]int32, len(prefix))
		for i, r := range prefix {
			toks[i] = int32(r - 'a')
		}
		var want BlockKey
		for i := 0; i+m.bs <= len(toks); i += m.bs {
			want = ChainKey(want, toks[i:i+m.bs])
		}
		if len(toks)%m.bs != 0 || e.Key != want || !slices.Equal(e.Tokens, toks[len(toks)-m.bs:]) {
			m.t.Fatalf("evicted block %d holds %q but is recorded as tokens %v, key %x", e.Block, slots[m.bs-1], e.Tokens, e.Key[:4])
		}
		m.spilled[e.Key] = slots
	}
}

// load brings back the spilled blocks that follow q's cached prefix, as
// the engine's loadAhead: K/V copied into the fresh blocks, tokens
// committed.
func (m *sim) load(q *simSeq, prompt []int32) {
	keys := PromptKeys(nil, prompt, m.bs)
	for i := len(q.toks) / m.bs; i < len(keys); i++ {
		slots, ok := m.spilled[keys[i]]
		if !ok || len(q.toks) != i*m.bs {
			return
		}
		blk := prompt[i*m.bs : (i+1)*m.bs]
		prev := ""
		if len(q.keys) > 0 {
			prev = q.keys[len(q.keys)-1]
		}
		for j, k := range slots {
			if prev = key(prev, blk[j]); k != prev {
				m.t.Fatalf("spilled block for position %d holds %q, the prompt needs %q", i*m.bs+j, k, prev)
			}
			m.kv[m.slot(q.s, i*m.bs+j)] = k
		}
		m.loaded++
		if err := m.p.Commit(q.s, blk); err != nil {
			m.t.Fatalf("Commit of a loaded block: %v", err)
		}
		q.toks, q.keys, q.pending = append(q.toks, blk...), append(q.keys, slots...), q.pending[m.bs:]
	}
}

func (m *sim) slot(s *Seq, pos int) int { return int(s.blocks[pos/m.bs])*m.bs + pos%m.bs }

func key(prev string, tok int32) string { return prev + string(rune('a'+tok)) }

// compute is the engine's forward over the next k pending tokens of q,
// followed by the Commit.
func (m *sim) compute(q *simSeq, k int) {
	for _, tok := range q.pending[:k] {
		prev := ""
		if len(q.keys) > 0 {
			prev = q.keys[len(q.keys)-1]
		}
		q.keys = append(q.keys, key(prev, tok))
		m.kv[m.slot(q.s, len(q.toks))] = q.keys[len(q.keys)-1]
		q.toks = append(q.toks, tok)
	}
	if err := m.p.Commit(q.s, q.pending[:k]); err != nil {
		m.t.Fatalf("Commit: %v", err)
	}
	q.pending = q.pending[k:]
}

// admit allocates prompt for a (new or preempted) seq and checks the hit.
func (m *sim) admit(s *Seq, prompt []int32) *simSeq {
	before := m.p.Stats()
	cached, err := m.p.AllocatePrompt(s, prompt)
	if errors.Is(err, ErrNoSpace) {
		if m.p.Stats() != before || s.Len() != 0 {
			m.t.Fatal("failed AllocatePrompt changed state")
		}
		return nil
	}
	if err != nil {
		m.t.Fatal(err)
	}
	if cached%m.bs != 0 || cached >= len(prompt) {
		m.t.Fatalf("cached %d of %d", cached, len(prompt))
	}
	q := &simSeq{s: s}
	prev := ""
	for i, tok := range prompt[:cached] {
		prev = key(prev, tok)
		// A block before the window is gone (check() checks that it had to go).
		if s.BlockTable()[i/m.bs] != GoneBlock && m.kv[m.slot(s, i)] != prev {
			m.t.Fatalf("false hit: slot for position %d holds %q, want %q", i, m.kv[m.slot(s, i)], prev)
		}
		q.toks, q.keys = append(q.toks, tok), append(q.keys, prev)
	}
	q.pending = slices.Clone(prompt[cached:])
	m.live = append(m.live, q)
	m.drain()
	m.load(q, prompt)
	return q
}

func (m *sim) randTokens(n int) []int32 {
	t := make([]int32, n)
	for i := range t {
		t[i] = int32(m.rng.IntN(3)) // a tiny vocabulary: many equal blocks under different parents
	}
	return t
}

// step performs one random operation.
func (m *sim) step(bases [][]int32) string {
	r := m.rng.IntN(100)
	pick := func() *simSeq { return m.live[m.rng.IntN(len(m.live))] }
	switch {
	case r < 20 && len(m.live) < 8:
		b := bases[m.rng.IntN(len(bases))]
		prompt := slices.Concat(b[:m.rng.IntN(len(b)+1)], m.randTokens(1+m.rng.IntN(12)))
		m.admit(m.p.NewSeq(), prompt)
		return "admit"
	case len(m.live) == 0:
		return "idle"
	case r < 45:
		q := pick()
		if len(q.pending) == 0 {
			return "nothing to prefill"
		}
		m.compute(q, 1+m.rng.IntN(len(q.pending)))
		return "prefill"
	case r < 70:
		q := pick()
		if len(q.toks)+len(q.pending) > 48 {
			return "too long"
		}
		n := 1
		if m.rng.IntN(4) == 0 {
			n = 1 + m.rng.IntN(6)
		}
		table, before := slices.Clone(q.s.BlockTable()), m.p.Stats()
		copies, err := m.p.AppendSlots(q.s, n)
		m.drain()
		if errors.Is(err, ErrNoSpace) {
			if m.p.Stats() != before || !slices.Equal(q.s.BlockTable(), table) {
				m.t.Fatal("failed AppendSlots changed state")
			}
			return "append: no space"
		}
		if err != nil {
			m.t.Fatal(err)
		}
		for _, c := range copies { // the engine, before the forward
			copy(m.kv[int(c.Dst)*m.bs:int(c.Dst+1)*m.bs], m.kv[int(c.Src)*m.bs:int(c.Src+1)*m.bs])
		}
		q.pending = append(q.pending, m.randTokens(n)...)
		if m.rng.IntN(2) == 0 {
			m.compute(q, len(q.pending))
		}
		return "append"
	case r < 78 && len(m.live) < 8:
		q := pick()
		c := &simSeq{s: m.p.Fork(q.s), toks: slices.Clone(q.toks), keys: slices.Clone(q.keys)}
		m.live = append(m.live, c)
		return "fork"
	case r < 83:
		q := pick()
		if err := m.p.Commit(q.s, make([]int32, len(q.pending)+1)); err == nil {
			m.t.Fatal("Commit beyond the reserved slots succeeded")
		}
		return "bad commit"
	case r < 98:
		i := m.rng.IntN(len(m.live))
		q := m.live[i]
		m.p.Free(q.s)
		m.live = slices.Delete(m.live, i, i+1)
		if m.rng.IntN(2) == 0 && len(q.toks)+len(q.pending) > 0 { // preempted: recompute later
			m.admit(q.s, slices.Concat(q.toks, q.pending))
			return "preempt"
		}
		return "free"
	default:
		m.p.ResetPrefixCache()
		return "reset"
	}
}

// check verifies the pool's invariants and every live seq's K/V.
func (m *sim) check() {
	seqs := make([]*Seq, len(m.live))
	for i, q := range m.live {
		seqs[i] = q.s
		if q.s.Len() != len(q.toks)+len(q.pending) || q.s.Computed() != len(q.toks) {
			m.t.Fatalf("seq %d: Len %d Computed %d, model %d+%d", i, q.s.Len(), q.s.Computed(), len(q.toks), len(q.pending))
		}
		// With a window only the positions the next query reads must hold
		// their K/V; the blocks wholly before them are released.
		first := 0
		if w := m.p.cfg.Window; w > 0 {
			first = max(len(q.toks)-w+1, 0)
		}
		for j, b := range q.s.BlockTable() {
			if gone := (j+1)*m.bs <= first; gone != (b == GoneBlock) {
				m.t.Fatalf("seq %d: table entry %d = %d with %d committed tokens and window %d", i, j, b, len(q.toks), m.p.cfg.Window)
			}
		}
		for pos, k := range q.keys {
			if pos < first {
				continue
			}
			if got := m.kv[m.slot(q.s, pos)]; got != k {
				m.t.Fatalf("seq %d position %d: slot holds %q, want %q", i, pos, got, k)
			}
		}
	}
	if err := checkPool(m.p, seqs); err != nil {
		m.t.Fatal(err)
	}
	st := m.p.Stats()
	if st.FreeBlocks+st.CachedBlocks+st.UsedBlocks != st.TotalBlocks {
		m.t.Fatalf("stats %+v do not add up", st)
	}
	// Every cache entry holds exactly the prefix its chain claims.
	m.p.mu.Lock()
	defer m.p.mu.Unlock()
	for b := range m.p.blocks {
		bl := &m.p.blocks[b]
		if bl.id == 0 {
			continue
		}
		var want strings.Builder
		if bl.parent >= 0 {
			want.WriteString(m.kv[int(bl.parent+1)*m.bs-1])
		}
		for _, tok := range m.p.blockTokens(int32(b)) {
			want.WriteRune(rune('a' + tok))
		}
		if got := m.kv[(b+1)*m.bs-1]; got != want.String() {
			m.t.Fatalf("cached block %d holds %q, its entry claims %q", b, got, want.String())
		}
	}
}

func TestRandomOperationsKeepInvariants(t *testing.T) {
	hashes := []struct {
		name string
		h    func(uint64, []int32) uint64
	}{
		{"fnv", chainHash},
		{"colliding", func(parent uint64, t []int32) uint64 { // 5 values: collisions everywhere
			h := parent * 31
			for _, x := range t {
				h += uint64(x)
			}
			return h % 5
		}},
	}
	for _, hf := range hashes {
		for _, window := range []int{0, 5} {
			for seed := range uint64(6) {
				spill := seed >= 4 // the last runs keep evicted blocks and load them back
				t.Run(fmt.Sprintf("%s/window%d/seed%d/spill=%v", hf.name, window, seed, spill), func(t *testing.T) {
					randomOperations(t, hf.h, window, seed, spill)
				})
			}
		}
	}
}

// randomOperations runs 3000 random operations on a pool of 24 blocks of 4
// tokens with the given hash and window, checking every invariant after
// each; with spill the pool keeps evicted blocks and the run loads them back.
func randomOperations(t *testing.T, h func(uint64, []int32) uint64, window int, seed uint64, spill bool) {
	p := mustPool(t, Config{NumBlocks: 24, BlockSize: 4, PrefixCaching: true, Window: window, KeepEvicted: spill})
	p.hash = h
	m := &sim{t: t, rng: rand.New(rand.NewPCG(seed, 42)), p: p, bs: 4, kv: make([]string, 24*4)}
	if spill {
		m.spilled = map[BlockKey][]string{}
	}
	bases := [][]int32{m.randTokens(12), m.randTokens(12), m.randTokens(8)}
	ops := map[string]int{}
	for range 3000 {
		ops[m.step(bases)]++
		m.check()
	}
	for _, q := range m.live {
		p.Free(q.s)
	}
	m.live = nil
	m.check()
	st := p.Stats()
	if st.UsedBlocks != 0 {
		t.Fatalf("used %d after freeing every seq", st.UsedBlocks)
	}
	if spill && m.loaded == 0 {
		t.Fatal("no spilled block was loaded back")
	}
	if st.PrefixHits == 0 || st.Evictions == 0 || ops["fork"] == 0 || ops["append"] == 0 {
		t.Fatalf("the run did not exercise hits, evictions, forks and appends: %+v %v", st, ops)
	}
	if (window > 0) != (st.WindowReleases > 0) {
		t.Fatalf("window %d but %d window releases", window, st.WindowReleases)
	}
	t.Logf("ops %v stats %+v, %d blocks loaded back", ops, st, m.loaded)
}

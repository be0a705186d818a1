package control

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/kiln-llm/kiln/control/kvcache"
	"github.com/kiln-llm/kiln/control/kvcache/spill"
)

// Spilling keeps the prefix cache's blocks beyond the pool (Config.Spill):
//
//   - A cached block the pool evicts is read out of the executor before
//     anything overwrites it (drainEvicted runs after schedule, before the
//     step's copies, imports and forward) and handed to the store without
//     waiting: the store's writer does the disk I/O, and drops what its
//     queue cannot hold.
//   - A request's prompt blocks that the pool lacks but the store holds are
//     read in Submit, on the caller's goroutine, before the request is
//     queued (readAhead, bounded by the store's read-ahead budget). At
//     admission they take the place of a prefill: their bytes are written
//     into the sequence's fresh blocks and then their tokens committed
//     (applyImports, after the step's copies, before its forward), so they
//     are cached as if computed, and never registered before their bytes
//     are in. The bytes are the ones the same model computed
//     for the same prefix, so everything after is bit-identical.
//   - When the engine closes, every cached block goes to the store
//     (waiting for the writer, up to spillFlushLimit), so a restarted server
//     finds what this one computed.

// spillFlushLimit bounds how long Close waits for the writer while saving
// the pool; blocks after it are offered without waiting (dropped if the
// queue is full).
const spillFlushLimit = 10 * time.Second

// BlockIO is what spilling needs of an executor besides Executor: the raw
// K/V bytes of one block (engine/model's Executor has it).
type BlockIO interface {
	KVBlockBytes() int
	ReadBlock(b int32, dst []byte) error
	WriteBlock(b int32, src []byte) error
}

// SpillMetrics count the prefix cache's blocks kept beyond the pool.
type SpillMetrics struct {
	spill.Stats
	// HitTokens are prompt tokens whose K/V was loaded from the spill
	// instead of computed (they count in Usage.CachedTokens too).
	HitTokens int64
}

func (m *SpillMetrics) add(o SpillMetrics) {
	m.Writes += o.Writes
	m.WriteBytes += o.WriteBytes
	m.Drops += o.Drops
	m.Reads += o.Reads
	m.ReadBytes += o.ReadBytes
	m.Errors += o.Errors
	m.HitTokens += o.HitTokens
}

// readAhead is the spilled blocks of a sequence's prompt read before
// admission: payloads[i] is the K/V of prompt block first+i.
type readAhead struct {
	first    int
	payloads [][]byte
}

// blockImport is spilled K/V that takes the place of a prefill: payloads
// go into the blocks of kv's table from index first on, then their tokens
// are committed (registering the blocks in the prefix cache), after the
// step's copies and before its forward.
type blockImport struct {
	s        *sequence
	kv       *kvcache.Seq
	first    int
	payloads [][]byte
	tokens   []int32
}

// setupSpill checks cfg.Spill against exec; nil when spilling is off.
func setupSpill(cfg Config, exec Executor) (BlockIO, error) {
	st := cfg.Spill
	if st == nil {
		return nil, nil
	}
	bio, ok := exec.(BlockIO)
	switch {
	case !cfg.PrefixCaching:
		return nil, errors.New("control: spilling the prefix cache needs prefix caching")
	case !ok:
		return nil, errors.New("control: the executor cannot read and write K/V blocks, which spilling needs")
	case st.Identity().BlockBytes != bio.KVBlockBytes() || st.Identity().BlockSize != exec.BlockSize():
		return nil, fmt.Errorf("control: spill store of %d-token blocks of %d bytes for an executor of %d-token blocks of %d bytes",
			st.Identity().BlockSize, st.Identity().BlockBytes, exec.BlockSize(), bio.KVBlockBytes())
	}
	return bio, nil
}

// readAhead reads the blocks of s's prompt that follow the pool's cached
// prefix from the store, as far as they are there in a row and the
// read-ahead budget allows. Called in Submit, off the step loop.
func (e *Engine) readAhead(s *sequence) {
	if e.bio == nil {
		return
	}
	bs, n := e.exec.BlockSize(), int64(e.bio.KVBlockBytes())
	keys := kvcache.PromptKeys(nil, s.tokens, bs)
	first := e.pool.CachedPrefix(s.tokens)
	var payloads [][]byte
	for i := first; i < len(keys) && e.cfg.Spill.Has(keys[i]); i++ {
		if !e.cfg.Spill.Reserve(n) {
			break
		}
		buf := make([]byte, n)
		if !e.cfg.Spill.Get(keys[i], s.tokens[i*bs:(i+1)*bs], buf) {
			e.cfg.Spill.Release(n)
			break
		}
		payloads = append(payloads, buf)
	}
	if len(payloads) > 0 {
		s.ahead = &readAhead{first: first, payloads: payloads}
	}
}

// dropAhead returns what s read ahead and did not use to the budget.
func (e *Engine) dropAhead(s *sequence) {
	if s.ahead == nil {
		return
	}
	for _, p := range s.ahead.payloads {
		if p != nil {
			e.cfg.Spill.Release(int64(len(p)))
		}
	}
	s.ahead = nil
}

// loadAhead puts s's read-ahead blocks after the cached prefix of kv (just
// allocated for s.tokens, cached tokens found in the pool): it queues them
// for applyImports and returns the computed tokens s has once they are in,
// which s.computed takes at once (kv.Computed() follows in applyImports;
// until then the blocks are kv's alone, not yet registered, so nothing can
// see or evict them without their bytes). Blocks the pool already had are
// skipped; if the pool now has fewer blocks than when s read ahead, nothing
// is used.
func (e *Engine) loadAhead(s *sequence, kv *kvcache.Seq, cached int) int {
	a := s.ahead
	if a == nil {
		return cached
	}
	defer e.dropAhead(s)
	bs := e.exec.BlockSize()
	hit := cached / bs
	skip := hit - a.first
	maxBlocks := (len(s.tokens) - 1) / bs
	if skip < 0 || skip >= len(a.payloads) || hit >= maxBlocks {
		return cached
	}
	use := slices.Clone(a.payloads[skip:min(len(a.payloads), skip+maxBlocks-hit)])
	clear(a.payloads[skip : skip+len(use)]) // owned by the import now (released there)
	n := len(use) * bs
	e.imports = append(e.imports, blockImport{s: s, kv: kv, first: hit, payloads: use, tokens: s.tokens[cached : cached+n]})
	e.met.update(func(m *Metrics) { m.Spill.HitTokens += int64(n) })
	return cached + n
}

// applyImports writes the queued imports' bytes into their blocks and
// commits their tokens. A failed write or commit (impossible unless the
// executor changed shape) fails its sequence, whose blocks were never
// registered; the error then fails the step.
func (e *Engine) applyImports() error {
	var errs []error
	for i, im := range e.imports {
		if !im.s.finished && im.s.kv == im.kv {
			if err := e.importBlocks(im); err != nil {
				err = fmt.Errorf("control: loading a spilled block: %w", err)
				e.finish(im.s, FinishError, err)
				errs = append(errs, err)
			}
		}
		for _, p := range im.payloads {
			e.cfg.Spill.Release(int64(len(p)))
		}
		e.imports[i] = blockImport{}
	}
	e.imports = e.imports[:0]
	return errors.Join(errs...)
}

// importBlocks writes im's bytes, then commits its tokens.
func (e *Engine) importBlocks(im blockImport) error {
	table := im.kv.BlockTable()
	for j, p := range im.payloads {
		if err := e.bio.WriteBlock(table[im.first+j], p); err != nil {
			return err
		}
	}
	return e.pool.Commit(im.kv, im.tokens)
}

// drainEvicted hands the blocks the pool evicted to the store, their bytes
// read before anything overwrites them. Until waitUntil the store waits
// for room in its writer's queue instead of dropping (the zero time: never
// wait, as on the step loop).
func (e *Engine) drainEvicted(waitUntil time.Time) {
	if e.bio == nil {
		return
	}
	e.evicted = e.pool.TakeEvicted(e.evicted[:0])
	for i, ev := range e.evicted {
		e.evicted[i] = kvcache.Evicted{}
		if e.cfg.Spill.Has(ev.Key) {
			continue
		}
		wait := !waitUntil.IsZero() && time.Now().Before(waitUntil)
		e.cfg.Spill.Offer(ev.Key, ev.Tokens, wait, func(dst []byte) error {
			err := e.bio.ReadBlock(ev.Block, dst)
			if err != nil {
				slog.Warn("control: reading an evicted K/V block failed; it is not spilled", "block", ev.Block, "err", err)
			}
			return err
		})
	}
	e.evicted = e.evicted[:0]
}

// flushSpill saves every cached block to the store (at Close, after every
// sequence and session has released its blocks).
func (e *Engine) flushSpill() {
	if e.bio == nil {
		return
	}
	e.pool.EvictAll()
	e.drainEvicted(time.Now().Add(spillFlushLimit))
}

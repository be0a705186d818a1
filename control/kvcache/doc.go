// Package kvcache is the paged KV-cache block manager: it decides which
// blocks of the engine's KV pool (engine/model.KVCache: NumBlocks blocks of
// BlockSize token slots, one block index meaning the same block in every
// layer) each sequence uses. It moves block indices only, never K/V bytes;
// the one thing the engine must do on its behalf is the block copies that
// AppendSlots returns for copy-on-write. It is vLLM's block manager with
// automatic prefix caching, in pure Go with no dependency on the engine.
//
// # Life of a sequence
//
//	s := pool.NewSeq()
//	cached, err := pool.AllocatePrompt(s, prompt) // slots for the prompt; prompt[:cached] is already in the cache
//	// forward prompt[cached:] (in chunks) over s.BlockTable(), then after each chunk:
//	err = pool.Commit(s, chunk)                   // their K/V is now computed
//	for decoding {
//		copies, err := pool.AppendSlots(s, 1)    // a slot for the token about to be fed
//		// engine: perform copies, then forward the token, then
//		err = pool.Commit(s, []int32{tok})
//	}
//	pool.Free(s)                                  // its full blocks stay cached for later prompts
//
// A sequence has Len reserved token slots (positions 0..Len-1, held by
// BlockTable) of which the first Computed are committed: their K/V has been
// written and, once a block is full, it is hashed for reuse. Preemption by
// recompute is Free followed, later, by AllocatePrompt of prompt+output,
// which may hit the cache.
//
// # Prefix cache
//
// A full block's identity is the chained hash h_i = H(h_{i-1}, tokens of
// block i), so equal hashes mean equal prefixes up to a 64-bit collision.
// Collisions cannot cause a false hit: a cache entry keeps its tokens (in a
// token store that mirrors the K/V slots) and the unique id of its parent
// entry, and a lookup reuses a block only when its tokens are equal and its
// parent is exactly the entry matched one block earlier. By induction the
// whole prefix is then equal token for token. Entry ids are never reused, so
// this is exact even where a parent hash was evicted and registered again by
// different content; when an entry leaves the cache its cached descendants
// leave with it, since nothing could reach them any more.
//
// # Beyond the pool
//
// With Config.KeepEvicted every registered block also carries a BlockKey, a
// SHA-256 chain over the same blocks of tokens, which names its prefix
// exactly and across processes; the cached blocks an allocation evicts (and
// those EvictAll drops at shutdown) are recorded with their keys for
// TakeEvicted, so that a cache outside the pool (package spill: RAM, then
// files) can copy their K/V before the block is overwritten. Bringing such
// a block back is an ordinary allocation whose K/V is written by a copy
// instead of a forward, then Committed like computed tokens; CachedPrefix
// says where the pool's own hits end.
//
// Registered blocks are immutable: a write into a block that another
// sequence or the cache can see goes through copy-on-write.
//
// # Sliding window
//
// For a model whose every layer attends to a sliding window of W positions
// (Config.Window = W), a position older than the next query's window is
// never read again. Commit releases each block that falls wholly out of it:
// the table entry becomes GoneBlock, and the block goes back to the pool (a
// registered block stays cached for prefix reuse until it is evicted). A
// long generation then holds about W/BlockSize+2 blocks however long it
// runs. Fork, Free and Truncate skip gone entries. A prompt still reserves
// all its blocks up front (AllocatePrompt); those before the window go as
// its chunks are committed. Models with global layers (gemma2/gemma3
// interleave them) need every position and must not set Window.
//
// # Block states
//
// Every block is in exactly one state: free (on the free list), cached
// (refcount 0, registered in the prefix cache, on the LRU evictable list) or
// used (refcount > 0, possibly also registered). Allocation takes the free
// list first (LIFO, so allocation order is deterministic and a freed block
// is reused while its memory is warm), then evicts the least recently
// released cached block. Free releases a table back to front, so the deeper
// blocks of a prefix are evicted before the blocks they extend.
//
// # Concurrency
//
// A Pool is safe for concurrent use (one mutex); in practice the scheduler's
// step loop drives it while metrics read Stats from other goroutines. A Seq
// belongs to the Pool that made it and must only be passed to that Pool.
package kvcache

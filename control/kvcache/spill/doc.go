// Package spill keeps prefix-cache blocks beyond the K/V pool: in RAM
// first (optional), then as files in a directory that outlives the
// process, so a restarted server reuses prompts it computed before.
//
// One Cache owns a directory; each model (an Identity: the model's
// fingerprint, the K/V cache's geometry and block size) gets a Store, a
// subdirectory named by a hash of its identity, so several models share a
// directory, its byte budget and its LRU order without ever seeing each
// other's blocks. A block is a file named by its kvcache.BlockKey (the
// SHA-256 chain over its prefix's tokens): a header (format version, the
// full identity, the key, the block's tokens), the raw K/V bytes, and a
// CRC-32C of all of it. A file that is truncated, corrupt, of another
// identity or unreadable is never loaded: it is logged once, deleted, and
// the block is recomputed.
//
// Nothing here blocks the scheduler's step loop on a disk: Put hands a
// block to a writer goroutine through a queue bounded in bytes (a block
// that does not fit is dropped and counted), and Get, which reads a file,
// is called where a request waits anyway (before it is admitted). Files are
// written to a temporary name and renamed, so a reader sees whole files
// only. When the directory's byte budget is exceeded the least recently
// used files go; the index is rebuilt from the directory at start-up
// (file modification times give the LRU order, and a hit touches its file).
// A write that fails (disk full, directory gone read-only) stops spilling
// with one log line; reads and serving go on.
package spill
